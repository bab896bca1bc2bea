"""What a training run shows on stderr: a live Rich bar on a terminal, plain lines everywhere else.

A cluster job's log (stderr redirected to a file) gets, like Lightning and tqdm give it::

    genzoo: training gvae on mnist5k | run runs/g | device cpu | 1,234,567 parameters | 2000 steps of batch 64
    step 25/2000 (1%) | 612 img/s | ETA 4m05s | autoencoder/loss=212 critic/loss=-3.1
    ...
    genzoo: done: 2000 steps in 4m51s

A terminal gets the same start line, then the live bar (step, ETA, images/s, losses). Both show
images/s from the first step and the losses of the first iteration, also after a resume.
"""

from __future__ import annotations

import time
from typing import Any

MODES = ("auto", "bar", "lines", "none")


def format_duration(seconds: float) -> str:
    """``4m05s``, ``1h02m``, ``12s``."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def format_losses(record: dict[str, Any]) -> str:
    """The players' minimised losses of a metrics record, ``critic/loss=-3.1 ...``."""
    return " ".join(f"{k}={v:.3g}" for k, v in record.items() if "/" in k and k.endswith("/loss"))


def resolve_mode(mode: str | bool, is_terminal: bool) -> str:
    """``auto`` (or ``True``) is a bar on a terminal and lines elsewhere; ``False`` is ``none``."""
    if mode is True:
        mode = "auto"
    elif mode is False:
        mode = "none"
    if mode not in MODES:
        raise ValueError(f"progress mode must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "auto":
        return "bar" if is_terminal else "lines"
    return mode


class TrainingProgress:
    """The run's progress on stderr.

    Args:
        total: the step the run trains to.
        start: the step it starts from (non-zero after a resume).
        mode: ``auto``, ``bar``, ``lines`` or ``none`` (or a bool: ``auto`` / ``none``).
        images_per_step: images one step consumes over all ranks, for images/s between log lines.
    """

    def __init__(self, total: int, start: int, mode: str | bool, images_per_step: int = 0) -> None:
        from genzoo import console

        self.console = console.stderr
        self.mode = resolve_mode(mode, self.console.is_terminal)
        self.total, self.start, self.images_per_step = total, start, images_per_step
        self.started = time.perf_counter()
        self.losses = ""
        self.first_done: float | None = None
        if self.mode != "bar":
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            TextColumn("{task.fields[speed]}"), TextColumn("{task.fields[losses]}"),
            console=self.console, transient=False,
        )
        self.task = self.progress.add_task("train", total=total, completed=start, speed="", losses="")

    @property
    def enabled(self) -> bool:
        return self.mode != "none"

    def __enter__(self) -> TrainingProgress:
        self.started = time.perf_counter()
        if self.mode == "bar":
            self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.mode == "bar":
            self.progress.stop()
        if self.enabled and exc[0] is None:
            self.console.print(f"genzoo: done: {self.total - self.start} steps in "
                               f"{format_duration(time.perf_counter() - self.started)}", highlight=False)

    def announce(self, info: dict[str, Any]) -> None:
        """The start line: run folder, model, data set, device, parameter count and budget."""
        if not self.enabled:
            return
        resumed = f" (resuming at step {self.start})" if self.start else ""
        self.console.print(
            f"genzoo: training {info['model']} on {info['dataset']} | run {info['run_dir']} | device {info['device']}"
            f" | {info['parameters']:,} parameters | {info['steps']} steps of batch {info['batch_size']}"
            f"{' x ' + str(info['world']) + ' ranks' if info.get('world', 1) > 1 else ''}{resumed}",
            highlight=False, markup=False, soft_wrap=True,
        )

    def rate(self, step: int) -> float:
        """Images per second since this session started."""
        done = step - self.start
        return self.images_per_step * done / max(time.perf_counter() - self.started, 1e-9)

    def first_losses(self, losses: dict[str, float]) -> None:
        """The losses of the first iteration of this session, shown before the first log line."""
        self.losses = format_losses(losses)
        self.first_done = time.perf_counter()

    def _estimate(self, step: int) -> None:
        """In a log file, after the second step: what the whole budget takes at its pace.

        So a run that would take days on this device (a 64-px ResNet on a CPU) says so before the
        first log line, not after ``log_every`` slow steps. The second step is timed because the
        first also pays for warm-up (allocation, ``torch.compile``, CUDA start-up).
        """
        now = time.perf_counter()
        per_step = now - self.first_done
        total = now - self.started + per_step * (self.total - step)
        one = f"{per_step:.2f}s" if per_step < 10 else format_duration(per_step)
        self.console.print(
            f"genzoo: one step takes {one}; at that pace the {self.total - self.start} "
            f"steps take about {format_duration(total)} | {self.losses}",
            highlight=False, markup=False, soft_wrap=True,
        )

    def update(self, step: int, record: dict[str, Any] | None) -> None:
        """After every step; ``record`` is the metrics line when one was logged at this step."""
        if record is not None:
            self.losses = format_losses(record)
        if self.mode == "lines" and step == self.start + 2 and self.first_done is not None:
            self._estimate(step)
        if self.mode == "bar":
            speed = record["images_per_s"] if record is not None else self.rate(step)
            self.progress.update(self.task, completed=step, speed=f"{speed:.0f} img/s", losses=self.losses)
        elif self.mode == "lines" and record is not None:
            elapsed = time.perf_counter() - self.started
            eta = elapsed / max(step - self.start, 1) * (self.total - step)
            self.console.print(
                f"step {step}/{self.total} ({100 * step // max(self.total, 1)}%) | {record['images_per_s']:.0f} img/s"
                f" | ETA {format_duration(eta)} | {self.losses}",
                highlight=False, markup=False, soft_wrap=True,
            )
