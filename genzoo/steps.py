"""One training iteration over a model's players: the heart of the shared trainer.

Kept apart from the loop (``genzoo.trainer``) so the contract tests in :mod:`genzoo.testing` and
the benchmark step models exactly the way ``genzoo run`` does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from genzoo.errors import GenzooError, TrainingDiverged
from genzoo.model import GenerativeModel, Player


def player_parameters(model: GenerativeModel, player: Player) -> list[nn.Parameter]:
    """The trainable parameters of the sub-modules a player owns."""
    params: list[nn.Parameter] = []
    for module_name in player.modules:
        module = getattr(model, module_name, None)
        if not isinstance(module, nn.Module):
            raise GenzooError(
                f"player {player.name!r} names module {module_name!r}, which {type(model).__name__} does not have"
            )
        params.extend(p for p in module.parameters() if p.requires_grad)
    return params


def check_players(model: GenerativeModel) -> list[Player]:
    """Validate the players: unique names, at least one step, no parameter owned twice."""
    players = list(model.players())
    if not players:
        raise GenzooError(f"{type(model).__name__}.players() returned no players")
    names = [p.name for p in players]
    if len(set(names)) != len(names):
        raise GenzooError(f"{type(model).__name__} declares duplicate player names: {names}")
    owner: dict[int, str] = {}
    for player in players:
        if player.steps < 1:
            raise GenzooError(f"player {player.name!r} must take at least one step per iteration")
        for param in player_parameters(model, player):
            if id(param) in owner:
                raise GenzooError(
                    f"a parameter is owned by both players {owner[id(param)]!r} and {player.name!r}"
                )
            owner[id(param)] = player.name
    return players


def build_optimizers(model: GenerativeModel, lr: float | None = None) -> dict[str, torch.optim.Optimizer]:
    """One Adam(W) optimiser per player, with the player's own settings (``lr``, if given, for all)."""
    optimizers: dict[str, torch.optim.Optimizer] = {}
    for player in check_players(model):
        params = player_parameters(model, player)
        optimizer_class = torch.optim.AdamW if player.weight_decay else torch.optim.Adam
        optimizers[player.name] = optimizer_class(
            params, lr=lr or player.lr, betas=player.betas, weight_decay=player.weight_decay
        )
    return optimizers


@dataclass
class StepOptions:
    """How a player step runs: autocast dtype and device type, and the per-player grad scalers."""

    device_type: str = "cpu"
    autocast_dtype: torch.dtype | None = None
    scalers: dict[str, torch.amp.GradScaler] = field(default_factory=dict)

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.autocast_dtype)


def run_iteration(
    model: nn.Module,
    players: list[Player],
    optimizers: dict[str, torch.optim.Optimizer],
    next_batch: Callable[[], Tensor] | Iterator[Tensor],
    *,
    step: int = 0,
    options: StepOptions | None = None,
) -> dict[str, Tensor]:
    """Step every player ``player.steps`` times; return the last detached loss terms of each.

    ``model`` is the :class:`GenerativeModel` or its DistributedDataParallel wrapper; calling
    it runs ``GenerativeModel.loss``. Every player step draws a fresh batch and does a fresh
    forward pass. Grads of *all* parameters are cleared first, so a generator step that
    back-propagates through the critic leaves nothing behind for the critic's next step.
    """
    options = options or StepOptions()
    fetch = next_batch if callable(next_batch) else (lambda: next(next_batch))  # type: ignore[arg-type]
    logged: dict[str, Tensor] = {}
    for player in players:
        optimizer = optimizers[player.name]
        scaler = options.scalers.get(player.name)
        for _ in range(player.steps):
            batch = fetch()
            model.zero_grad(set_to_none=True)
            with options.autocast():
                terms = model(player.name, batch)
            loss = terms["loss"]
            if not bool(torch.isfinite(loss.detach())):
                values = ", ".join(f"{k}={float(v.detach()):.4g}" for k, v in terms.items())
                hint = " (fp16 autocast is known to overflow here; try --precision bf16)" if scaler else ""
                raise TrainingDiverged(
                    f"player {player.name!r} produced a non-finite loss at step {step} ({values}){hint}"
                )
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()
        for key, value in terms.items():
            logged[f"{player.name}/{key}"] = value.detach().float()
    return logged
