"""Experiment trackers: where a run's metrics and sample grids go besides ``metrics.jsonl``.

``genzoo run MODEL --log tensorboard`` (repeatable, or comma-separated) adds a tracker. TensorBoard
is built in (``pip install 'genzoo[tensorboard]'``; event files in ``RUN/tensorboard/``, view them
with ``tensorboard --logdir runs``). A plugin adds others (W&B, MLflow, ...) through the
``genzoo_loggers`` hook, which returns ``{name: "package.module:factory"}``; the factory is imported
on first use and called as ``factory(run_dir, config)`` with the run folder and the run's config
dict, and returns a :class:`RunLogger`. Trackers run on rank 0 only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genzoo.errors import ConfigError, PluginError
from genzoo.specs import FACTORY_PATTERN, NAME_PATTERN, import_object

TENSORBOARD_DIR = "tensorboard"


class RunLogger:
    """A tracker of one run. Every method has a default that does nothing; override what you need."""

    def start(self, info: dict[str, Any]) -> None:
        """Once, before the first step: ``model``, ``dataset``, ``run_dir``, ``device``, ``parameters``,
        ``steps``, ``batch_size``, ``world``, ``start_step`` and ``config`` (the run's config dict).
        Write nothing into the run folder before this call: until then the run may still be refused (another
        process training into the same folder)."""

    def log_metrics(self, step: int, record: dict[str, Any]) -> None:
        """One ``metrics.jsonl`` line: ``step``, ``epoch``, ``time``, ``images_per_s`` and the loss terms."""

    def log_images(self, step: int, tag: str, images: Any) -> None:
        """A batch of samples in [-1, 1], (N, C, H, W) or volumes (N, C, D, H, W)."""

    def close(self) -> None:
        """At the end of the run, also when it stops early."""


class TensorBoardLogger(RunLogger):
    """Scalars (every loss term, images/s) and sample grids in ``RUN/tensorboard/``."""

    def __init__(self, run_dir: str | Path, config: dict[str, Any] | None = None) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ConfigError(
                "--log tensorboard needs the tensorboard package: pip install 'genzoo[tensorboard]'"
            ) from None
        self.folder = Path(run_dir) / TENSORBOARD_DIR
        self._writer_class = SummaryWriter
        self.writer: Any = None  # opened by start(): a run refused before it (a busy folder) writes nothing

    def start(self, info: dict[str, Any]) -> None:
        self.writer = self._writer_class(log_dir=str(self.folder))
        text = ", ".join(f"{k}: {info[k]}" for k in ("model", "dataset", "device", "parameters", "steps", "batch_size"))
        self.writer.add_text("run", text, info.get("start_step", 0))

    def log_metrics(self, step: int, record: dict[str, Any]) -> None:
        for key, value in record.items():
            if key not in ("step", "time") and isinstance(value, (int, float)):
                self.writer.add_scalar(key, value, step, walltime=record.get("time"))

    def log_images(self, step: int, tag: str, images: Any) -> None:
        import math

        from torchvision.utils import make_grid

        from genzoo.images import as_displayable

        shown = as_displayable(images)
        grid = make_grid(shown, nrow=max(1, math.ceil(math.sqrt(len(shown)))), padding=2)
        self.writer.add_image(tag, grid, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


BUILTIN = {"tensorboard": "genzoo.tracking:TensorBoardLogger"}


def available_loggers(host: Any = None) -> dict[str, str]:
    """Tracker names to factory paths: the built-in ones and those plugins add with ``genzoo_loggers``."""
    found = dict(BUILTIN)
    if host is None:
        return found
    for impl in host.manager.hook.genzoo_loggers.get_hookimpls():
        try:
            provided = impl.function()
            if not isinstance(provided, dict):
                raise PluginError("genzoo_loggers must return a dict {name: 'package.module:factory'}")
            for name, factory in provided.items():
                if not (isinstance(name, str) and NAME_PATTERN.match(name)):
                    raise PluginError(f"genzoo_loggers: {name!r} is not a valid name (lower-case letters, digits, . _ -)")
                if not (isinstance(factory, str) and FACTORY_PATTERN.match(factory)):
                    raise PluginError(f"genzoo_loggers: {name}: factory must be 'package.module:attr', got {factory!r}")
                found.setdefault(name, factory)
        except PluginError as exc:
            host._warn(f"genzoo: warning: plugin {impl.plugin_name}: {exc}; its trackers were skipped")
    return found


def parse_logger_names(values: list[str] | None) -> list[str]:
    """``["tensorboard,wandb", "mlflow"]`` -> ``["tensorboard", "wandb", "mlflow"]`` (order kept, no repeats)."""
    names: list[str] = []
    for value in values or []:
        for name in value.split(","):
            name = name.strip()
            if name and name not in names:
                names.append(name)
    return names


def build_loggers(names: list[str], run_dir: Path, config: dict[str, Any], host: Any = None) -> list[RunLogger]:
    """Make the named trackers; an unknown name is one line listing the available ones."""
    if not names:
        return []
    factories = available_loggers(host)
    loggers = []
    for name in names:
        if name not in factories:
            raise ConfigError(f"unknown tracker '{name}' for --log (available: {', '.join(sorted(factories))})")
        try:
            factory = import_object(factories[name])
        except Exception as exc:
            raise PluginError(f"tracker '{name}' ({factories[name]}) cannot be imported: {type(exc).__name__}: {exc}") from None
        logger = factory(run_dir, config)
        if not isinstance(logger, RunLogger):
            raise PluginError(f"tracker '{name}' ({factories[name]}) did not return a genzoo.tracking.RunLogger")
        loggers.append(logger)
    return loggers
