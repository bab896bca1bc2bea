"""Pictures: sample grids (2D images, or the middle axial slice of each 3D volume) and loss curves."""

from __future__ import annotations

import json
import math
from pathlib import Path

from torch import Tensor

from genzoo.checkpoint import atomic_write


def as_displayable(samples: Tensor) -> Tensor:
    """(B, C, H, W) images in [0, 1] from samples in [-1, 1]; volumes show their middle slice."""
    samples = samples.detach().float().cpu()
    if samples.dim() == 5:
        samples = samples[:, :, samples.shape[2] // 2]
    return ((samples.clamp(-1, 1) + 1) / 2)


def save_grid(samples: Tensor, path: str | Path, nrow: int | None = None) -> Path:
    """Save samples in [-1, 1] as one PNG grid (atomically)."""
    from torchvision.utils import save_image

    images = as_displayable(samples)
    nrow = nrow or max(1, int(math.ceil(math.sqrt(len(images)))))
    return atomic_write(path, lambda tmp: save_image(images, str(tmp), nrow=nrow, padding=2, format="png"))


def read_metrics(path: str | Path) -> list[dict]:
    lines = Path(path).read_text().splitlines() if Path(path).exists() else []
    return [json.loads(line) for line in lines if line.strip()]


def plot_loss_curves(metrics_path: str | Path, out_path: str | Path, title: str = "") -> Path | None:
    """One panel per player, one line per loss term, from ``metrics.jsonl``."""
    rows = read_metrics(metrics_path)
    if not rows:
        return None
    # A Figure with its own Agg canvas: never switches the global pyplot backend of a notebook.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    terms = sorted({k for row in rows for k in row if "/" in k})
    players = sorted({t.split("/", 1)[0] for t in terms})
    fig = Figure(figsize=(5 * len(players), 3.5))
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(players), squeeze=False)
    for ax, player in zip(axes[0], players):
        for term in (t for t in terms if t.startswith(player + "/")):
            points = [(row["step"], row[term]) for row in rows if term in row]
            ax.plot([p[0] for p in points], [p[1] for p in points], label=term.split("/", 1)[1],
                    marker="o" if len(points) < 10 else None)
        ax.set_title(player)
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return atomic_write(out_path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
