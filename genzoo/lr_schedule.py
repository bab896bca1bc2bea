"""Linear learning-rate decay over the end of a run (``train.lr_decay``).

With T the run's iterations and S = round((1 - f)·T) the iteration where a decay over the last
fraction f starts, iteration t (1-based) steps every player with

    lr_t = lr · min(1, (T - t + 1) / (T - S))

so the lr is the player's own up to S and falls linearly to lr / (T - S) at the last iteration
(never exactly zero: the last step still moves). The factor is a function of t and T alone, so a
resumed run continues the same schedule bit for bit; resuming with a larger ``--steps`` moves S and
T, and the schedule follows the new budget. The decay of the last half is the schedule of
pix2pix/CycleGAN's GANs, meant to damp late iterate noise; at genzoo's 2,000-step CPU budgets it
did not raise alpha-gan's or vae-gan's sample quality (MODELS.md), so it is off by default.
"""

from __future__ import annotations

import torch


def lr_factor(step: int, total: int, decay_fraction: float) -> float:
    """Multiplier of the base lr at 1-based iteration ``step`` of ``total`` (1 without decay)."""
    if decay_fraction <= 0:
        return 1.0
    start = round((1.0 - decay_fraction) * total)
    if total <= start:  # a decay shorter than one iteration
        return 1.0
    return min(1.0, (total - step + 1) / (total - start))


def base_lrs(optimizers: dict[str, torch.optim.Optimizer]) -> dict[str, list[float]]:
    """Each optimiser's group lrs as built (what :func:`apply` scales)."""
    return {name: [group["lr"] for group in optimizer.param_groups] for name, optimizer in optimizers.items()}


def apply(optimizers: dict[str, torch.optim.Optimizer], bases: dict[str, list[float]], factor: float) -> None:
    """Set every group's lr to its base times ``factor``."""
    for name, optimizer in optimizers.items():
        for group, base in zip(optimizer.param_groups, bases[name]):
            group["lr"] = base * factor
