"""The training progress bar: a Rich bar on stderr with step, ETA, images/s and the current losses."""

from __future__ import annotations

from typing import Any


class TrainingProgress:
    """A Rich progress bar on stderr: step, ETA, images/s and the current losses."""

    def __init__(self, total: int, start: int, enabled: bool) -> None:
        self.enabled = enabled
        if not enabled:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        from genzoo import console

        self.progress = Progress(
            TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            TextColumn("{task.fields[speed]}"), TextColumn("{task.fields[losses]}"),
            console=console.stderr, transient=False,
        )
        self.task = self.progress.add_task("train", total=total, completed=start, speed="", losses="")

    def __enter__(self) -> TrainingProgress:
        if self.enabled:
            self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.enabled:
            self.progress.stop()

    def update(self, step: int, record: dict[str, Any] | None) -> None:
        if not self.enabled:
            return
        fields = {}
        if record is not None:
            losses = " ".join(f"{k}={v:.3g}" for k, v in record.items() if "/" in k and k.endswith("/loss"))
            fields = {"speed": f"{record['images_per_s']:.0f} img/s", "losses": losses}
        self.progress.update(self.task, completed=step, **fields)
