"""Figures of ``genzoo report``: samples side by side (the paper's Fig. 7) and loss curves."""

from __future__ import annotations

import math
from pathlib import Path

from torch import Tensor


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_samples_figure(samples: dict[str, Tensor], path: Path, per_side: int = 8) -> Path | None:
    """One panel per model, each an 8x8 grid of its samples (middle slice for volumes)."""
    if not samples:
        return None
    from torchvision.utils import make_grid

    from genzoo.images import as_displayable

    plt = _pyplot()
    fig, axes = plt.subplots(1, len(samples), figsize=(3.2 * len(samples), 3.5), squeeze=False)
    for ax, (name, images) in zip(axes[0], samples.items()):
        shown = as_displayable(images[: per_side * per_side])
        grid = make_grid(shown, nrow=per_side, padding=1, pad_value=1.0)
        ax.imshow(grid.permute(1, 2, 0).numpy(), cmap="gray" if grid.shape[0] == 1 else None, vmin=0, vmax=1)
        ax.set_title(name)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def save_loss_curves(runs: dict[str, Path], path: Path) -> Path | None:
    """One panel per model: every player's total loss (``PLAYER/loss``) against the step."""
    from genzoo.images import read_metrics

    logs = {name: read_metrics(run / "metrics.jsonl") for name, run in runs.items()}
    logs = {name: rows for name, rows in logs.items() if rows}
    if not logs:
        return None
    plt = _pyplot()
    columns = min(3, len(logs))
    rows_n = math.ceil(len(logs) / columns)
    fig, axes = plt.subplots(rows_n, columns, figsize=(4.5 * columns, 3.2 * rows_n), squeeze=False)
    for ax in axes.flat[len(logs) :]:
        ax.axis("off")
    for ax, (name, rows) in zip(axes.flat, logs.items()):
        terms = sorted({k for row in rows for k in row if k.endswith("/loss")})
        for term in terms:
            points = [(row["step"], row[term]) for row in rows if term in row]
            ax.plot([p[0] for p in points], [p[1] for p in points], label=term.split("/", 1)[0])
        values = [abs(row[t]) for row in rows for t in terms if t in row and row[t] == row[t]]
        if values and max(values) > 100 * max(min(values), 1e-3):
            ax.set_yscale("symlog")  # players' losses differ by orders of magnitude (VAE-GAN)
        _finish_panel(ax, name)
    return _save(plt, fig, path)


def _finish_panel(ax, title: str) -> None:
    ax.set_title(title)
    ax.set_xlabel("step")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def _save(plt, fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def save_curves(curves: dict[str, dict[str, dict]], path: Path, keys: tuple[str, ...] | None = None) -> Path | None:
    """One panel per metric key: every model's mean over seeds against the step, with its 95 % band.

    ``curves`` maps model -> step -> result key -> ``{"mean", "ci95", ...}`` (as in results.json).
    """
    found = sorted({k for steps in curves.values() for row in steps.values() for k in row})
    keys = tuple(k for k in (keys or found) if k in found)
    if not keys:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 3.3), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for model, steps in curves.items():
            points = [(int(step), row[key]) for step, row in steps.items() if key in row and row[key]["mean"] is not None]
            if not points:
                continue
            points.sort()
            x = [p[0] for p in points]
            mean = [p[1]["mean"] for p in points]
            half = [p[1]["ci95"] or 0.0 for p in points]
            ax.plot(x, mean, marker="o", markersize=3, label=model)
            ax.fill_between(x, [m - h for m, h in zip(mean, half)], [m + h for m, h in zip(mean, half)], alpha=0.15)
        _finish_panel(ax, key)
    return _save(plt, fig, path)
