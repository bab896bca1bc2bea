"""The shared trainer: one loop for every model, on CPU or GPU, on one process or many.

The trainer knows no model by name. It builds the data set and the model through the registry,
gives each player its optimiser, and steps the players with :func:`genzoo.steps.run_iteration`.
It owns devices, autocast, ``torch.compile``, multi-process training (per-player gradient
all-reduce), logging, sample grids, checkpoints and resume. A run folder holds::

    config.json              resolved config
    metrics.jsonl            one JSON line per logging step (with its wall-clock ``time``)
    samples/step-00000250.png  grids from the same fixed noise, comparable across a resume
    checkpoints/step-00000250/{model,trainer_state}.safetensors   newest ``keep_last``
    model.safetensors        the final model (self-describing, shareable)
    loss_curves.png          at the end
    tensorboard/             event files, with ``loggers=[TensorBoardLogger(...)]`` (``--log tensorboard``)
"""

from __future__ import annotations

import math
import os
import shutil
import signal
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from genzoo import lr_schedule
from genzoo.averaging import WeightAverage
from genzoo.batches import BatchStream, leading_batches
from genzoo.checkpoint import (
    MODEL_FILENAME,
    atomic_write,
    fsync_dir,
    is_write_failure,
    load_weights,
    model_metadata,
    optional_prefixes,
    save_model,
    state_tensors,
)
from genzoo.config import to_dict
from genzoo.data import split_holdout
from genzoo.distributed import (
    average_buffers,
    average_tensors,
    barrier,
    broadcast_module,
    init_distributed,
    mean_across_ranks,
    mean_gradients,
    min_across_ranks,
    shutdown_distributed,
)
from genzoo.errors import (
    CheckpointError, CheckpointWriteError, ConfigError, GenzooError, OutputError, RunFolderBusy, TrainingDiverged,
)
from genzoo.images import plot_loss_curves, save_grid
from genzoo.progress import TrainingProgress
from genzoo.runconfig import RunConfig
from genzoo.sizes import check_model_size
from genzoo.runfolder import (
    append_jsonl, clean_leftovers, flatten, is_optimiser_setting, load_newest_valid, newest_metadata, notice,
    read_run_config,
    record_history, trim_metrics,
)
from genzoo.runlock import RunFolderLock
from genzoo.steps import FiniteWatch, StepOptions, build_optimizers, check_players, run_iteration
from genzoo.tracking import RunLogger
from genzoo.train_state import STATE_FILENAME, restore_rng, save_train_state

# Settings that define what is being trained: a resumed run must keep them.
FIXED_ON_RESUME = ("model", "dataset", "model_config", "data_config")
FIXED_TRAIN_ON_RESUME = ("batch_size", "seed", "holdout", "ema")
RETUNABLE_TRAIN_ON_RESUME = ("lr", "lr_decay")  # like the models' lr and betas: may change, noted in config_history.jsonl
CHECKPOINT_DIR = "checkpoints"
CONFIG_FILENAME = "config.json"
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


class Interrupted(GenzooError):
    """SIGINT or SIGTERM stopped the run after a checkpoint was saved."""

    exit_code = 130


@dataclass
class RunResult:
    run_dir: Path
    step: int
    model_path: Path


# --- checkpoints in a run folder --------------------------------------------------------------
def checkpoint_dirs(run_dir: Path, include_damaged: bool = False) -> list[Path]:
    """Complete checkpoints, oldest first (a folder is renamed into place once both files are in it).

    ``include_damaged`` also lists step folders whose two names hold something other than a regular
    file (a folder, a looping link): resume verifies those and skips them with a line saying why;
    pruning, the final copy and the "last good checkpoint" never count them.
    """
    root = Path(run_dir) / CHECKPOINT_DIR
    if not root.is_dir():
        return []
    present = os.path.lexists if include_damaged else os.path.isfile
    found = [
        p for p in root.iterdir()
        if p.is_dir() and p.name.startswith("step-") and p.name[5:].isdigit()
        and present(p / MODEL_FILENAME) and present(p / STATE_FILENAME)
    ]
    return sorted(found, key=lambda p: int(p.name[5:]))


def latest_checkpoint(run_dir: Path) -> Path | None:
    dirs = checkpoint_dirs(run_dir)
    return dirs[-1] if dirs else None


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}: use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for, but PyTorch sees no CUDA GPU here; use --device cpu")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("--device mps was asked for, but MPS is not available here; use --device cpu")
    return device


def check_optimiser_settings(players: list[Any]) -> None:
    """Every player's lr is a positive finite number and its betas lie in [0, 1)."""
    for player in players:
        lr, betas = player.lr, tuple(player.betas)
        if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
            raise ConfigError(f"player {player.name!r} has lr={lr}; set a positive finite learning rate (--set lr=...)")
        if len(betas) != 2 or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas):
            raise ConfigError(f"player {player.name!r} has betas={betas}; each must lie in [0, 1)")


def seed_everything(seed: int) -> None:
    import random

    import numpy as np

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Trainer:
    """Train ``config.model`` on ``config.dataset`` into ``run_dir``.

    Args:
        config: the resolved run config.
        run_dir: the run folder; if it holds a checkpoint the run resumes from the newest one.
        registry: the component registry (default: the installed plugins).
        progress: what stderr shows (rank 0 only): ``auto`` (or ``True``) a live bar on a terminal
            and plain lines otherwise, ``bar``, ``lines``, or ``none`` (or ``False``).
        loggers: experiment trackers (rank 0 only), see :mod:`genzoo.tracking`.
        dataset: train on this :class:`~genzoo.data.ImageDataset` instead of building
            ``config.dataset`` through the registry (the Python API's own-data path).
    """

    def __init__(
        self,
        config: RunConfig,
        run_dir: str | Path,
        *,
        registry: Any = None,
        progress: bool | str = True,
        loggers: list[RunLogger] | None = None,
        dataset: Any = None,
    ) -> None:
        from genzoo.registry import get_registry

        self.config = config
        self.run_dir = Path(run_dir)
        self.registry = registry or get_registry()
        self.show_progress = progress
        self.loggers = list(loggers or [])
        self.given_dataset = dataset
        self._stop_signal: int | None = None
        # what a prior fit off the checkpoint schedule replaced (saved so that a resume puts it back)
        self._unscheduled_fit: dict[str, dict[str, torch.Tensor]] | None = None

    # --- set-up ---------------------------------------------------------------------------
    def _setup(self) -> None:
        self.device = resolve_device(self.config.train.device)
        self.dist = init_distributed(self.device.type)
        if self.dist.enabled and self.device.type == "cuda":
            self.device = torch.device("cuda", self.dist.local_rank)
        # A resumed run needs the plugins its checkpoint was written with: say which, not "unknown model".
        # (A damaged newest checkpoint is skipped here and reported when the run resumes.)
        meta = newest_metadata(checkpoint_dirs(self.run_dir))
        with self.registry.pinned(meta.get("components"), needed_by=f"--resume {self.run_dir}"):
            self._build(meta)

    def _build(self, meta: dict[str, Any]) -> None:
        cfg, train = self.config, self.config.train
        if meta:
            self.model_entry = self.registry.require(
                "model", meta["model"], meta["plugin"], needed_by=f"--resume {self.run_dir}",
                distribution=meta.get("plugin_distribution") or "", version=meta.get("plugin_version") or "",
            )
        else:
            self.model_entry = self.registry.resolve("model", cfg.model)
        seed_everything(train.seed)  # identical initial weights on every rank
        if self.given_dataset is not None:
            self.dataset, self.dataset_config, self.dataset_entry = self.given_dataset, None, None
        else:
            self.dataset_entry = dataset_entry = self.registry.resolve("dataset", cfg.dataset)
            self.dataset = self.registry.build_dataset(
                dataset_entry.qualified_name, cfg.data_config, dataset_entry.spec.splits[0], cfg.data_dir
            )
            self.dataset_config = self.registry.make_config(dataset_entry.spec, cfg.data_config)
        if train.holdout:
            self.dataset, _ = split_holdout(self.dataset, train.holdout)
        self.model_config = self.registry.make_config(self.model_entry.spec, cfg.model_config)
        # Record the *resolved* configs, so a resumed run rebuilds the same networks even if a
        # plugin's defaults change in between.
        cfg.model_config, cfg.data_config = to_dict(self.model_config), to_dict(self.dataset_config)
        if cfg.data_dir and "embedded" in dataset_entry.spec.tags and self.dist.is_main:
            notice(f"data set '{dataset_entry.name}' is embedded and does not read --data-dir {cfg.data_dir}; ignoring it")
        build = lambda: self.registry.build_model(self.model_entry.qualified_name, self.model_config, self.dataset.shape)  # noqa: E731
        check_model_size(build, f"model '{cfg.model}' as configured", self.device)
        self.model = build()
        self.players = check_players(self.model)
        check_optimiser_settings(self.players)
        self.model.to(self.device)
        if train.channels_last and self.device.type == "cuda" and len(self.dataset.shape) == 3:
            self.model.to(memory_format=torch.channels_last)
        self.optimizers = build_optimizers(self.model, lr=train.lr or None)
        self.base_lrs = lr_schedule.base_lrs(self.optimizers)  # before a resume loads decayed lrs
        self.average = WeightAverage(self.model, train.ema) if train.ema else None
        autocast_dtype = PRECISIONS[train.precision]
        scalers = {}
        if train.precision == "fp16":
            scalers = {p.name: torch.amp.GradScaler(self.device.type) for p in self.players}
        reduce = (lambda params: mean_gradients(params, self.dist)) if self.dist.enabled else None
        self.watch = FiniteWatch(self.players, fp16=bool(scalers))
        self.options = StepOptions(self.device.type, autocast_dtype, scalers, reduce, self.watch)
        noise_generator = torch.Generator().manual_seed(train.seed)
        self.fixed_noise = self.model.sample_noise(train.grid_size, noise_generator).to(self.device)
        self.stream = BatchStream(
            self.dataset, train.batch_size, train.seed, self.dist.rank, self.dist.world,
            num_workers=train.num_workers, pin_memory=self.device.type == "cuda", device=self.device,
        )
        self.batches_per_step = sum(p.steps for p in self.players)
        self.total_steps = train.steps
        if train.epochs > 0:
            self.total_steps = max(1, math.ceil(train.epochs * self.stream.batches_per_epoch / self.batches_per_step))
        self.step = 0
        torch.manual_seed(train.seed + 7919 * self.dist.rank)  # per-rank noise from here on

    def _check_resume_compatible(self) -> dict[str, Any]:
        """Refuse changes to what is trained; return the optimiser settings (lr, betas) that changed."""
        # Through RunConfig so a folder written before a train field existed compares at its default.
        written = read_run_config(self.run_dir)
        saved, new = RunConfig.from_dict(written).to_dict(), self.config.to_dict()
        old_flat = flatten({k: saved.get(k) for k in ("model_config", "data_config")})
        new_flat = flatten({k: new.get(k) for k in ("model_config", "data_config")})
        retuned = {k: [old_flat.get(k), new_flat.get(k)] for k in sorted(set(old_flat) | set(new_flat))
                   if old_flat.get(k) != new_flat.get(k) and is_optimiser_setting(k)}
        for key in retuned:  # lr and betas may change on resume (lowering lr after a divergence)
            old_flat[key] = new_flat.get(key)
        for key in RETUNABLE_TRAIN_ON_RESUME:
            before, after = saved.get("train", {}).get(key), new["train"].get(key)
            if before != after:
                retuned[f"train.{key}"] = [before, after]
        changed = [k for k in FIXED_ON_RESUME if k not in ("model_config", "data_config") and saved.get(k) != new.get(k)]
        # name the settings that differ (a run from before a setting existed reads it at today's default)
        differing = [p for p in sorted(set(old_flat) | set(new_flat)) if old_flat.get(p) != new_flat.get(p)]

        def value(flat: dict[str, Any], key: str) -> str:
            return repr(flat[key]) if key in flat else "absent"

        for k in ("model_config", "data_config"):
            keys = [p for p in differing if p.startswith(k + ".") or p == k]
            if keys:
                shown = ", ".join(f"{p.split('.', 1)[-1]}: {value(old_flat, p)} -> {value(new_flat, p)}" for p in keys[:3])
                changed.append(f"{k} ({shown}{', ...' if len(keys) > 3 else ''})")
        changed += [f"train.{k}" for k in FIXED_TRAIN_ON_RESUME if saved.get("train", {}).get(k) != new["train"].get(k)
                    and not (k == "ema" and k not in (written.get("train") or {}))]  # from before the average: either works
        if changed:
            raise ConfigError(
                f"{self.run_dir} was trained with different {', '.join(changed)}; resume without changing them, "
                "or start a new run in another folder"
            )
        return retuned

    def _resume(self, folders: list[Path] | Path) -> None:
        """Continue from the newest of ``folders`` (oldest first) that verifies."""
        retuned = self._check_resume_compatible()
        folders = [folders] if isinstance(folders, Path) else folders
        checkpoint, weights, state = load_newest_valid(
            self.run_dir, folders, self.model.state_dict(), optional_prefixes(self.model)
        )
        if self.dist.is_main:
            notice(f"resuming {self.run_dir} from {checkpoint.name}")
        context = f"{checkpoint} does not fit model '{self.config.model}' as configured now"
        # With the average, model.safetensors holds it and the training state the live weights (a run
        # saved before the average existed has none: both start from its weights).
        live = state["live"] if self.average is not None and state["live"] else weights
        load_weights(self.model, live, context)
        if self.average is not None:
            self.average.load(weights)
        with torch.no_grad():  # a fit off the schedule was for the published file only (fit loop)
            live_state = self.model.state_dict()
            for name, value in state["replaced_by_fit"]["live"].items():
                if name in live_state:
                    live_state[name].copy_(value)
            for name, value in state["replaced_by_fit"]["average"].items():
                if self.average is not None and name in self.average.tensors:
                    self.average.tensors[name].copy_(value)
        for name, optimizer in self.optimizers.items():
            if name not in state["optimizers"]:
                raise CheckpointError(f"{checkpoint} has no optimiser state for player {name!r}")
            wanted = [(group["lr"], group["betas"]) for group in optimizer.param_groups]
            try:
                optimizer.load_state_dict(state["optimizers"][name])
            except (ValueError, KeyError, TypeError) as exc:
                raise CheckpointError(f"{checkpoint}: optimiser state of player {name!r} does not fit ({exc})") from None
            if retuned:  # the new settings replace the saved ones; the moment estimates are kept
                for group, (lr, betas) in zip(optimizer.param_groups, wanted):
                    group["lr"], group["betas"] = lr, betas
        if retuned and self.dist.is_main:
            record_history(self.run_dir, state["step"], retuned)
            notice(f"optimiser settings changed on resume at step {state['step']}: "
                   + ", ".join(f"{k} {a} -> {b}" for k, (a, b) in retuned.items()))
        for name, scaler in self.options.scalers.items():
            if name in state["scalers"]:
                scaler.load_state_dict(state["scalers"][name])
        self.fixed_noise = state["fixed_noise"].to(self.device)
        self.step = state["step"]
        if self.dist.is_main:
            trim_metrics(self.run_dir / "metrics.jsonl", self.step)
        self.stream.seek(state["data_position"]["epoch"], state["data_position"]["batch"])
        if self.dist.is_main:
            restore_rng(state["rng_tensors"], state["rng_info"])
        else:  # only rank 0's RNG is saved; other ranks continue from a seed derived from the step
            torch.manual_seed(self.config.train.seed + 7919 * self.dist.rank + self.step)

    def _wrap(self) -> nn.Module:
        train = self.config.train
        if train.compile:
            # Compile each network in place: state_dict keys stay unchanged, and the players'
            # loss code (with its autograd.grad gradient penalties) stays in eager mode.
            for child in self.model.children():
                child.compile(backend=train.compile_backend, mode=None if train.compile_mode == "default" else train.compile_mode)
        # Several processes: no DistributedDataParallel wrapper. Each player step all-reduces
        # the stepping player's gradients only (StepOptions.reduce_gradients), batch-norm
        # statistics are averaged before each checkpoint, and ranks start from rank 0's weights.
        broadcast_module(self.model, self.dist)
        return self.model

    def _check_finite(self) -> None:
        """Raise TrainingDiverged if any rank saw a non-finite loss since the start (one sync)."""
        self.watch.check(lambda first: min_across_ranks(first, self.dist))

    # --- outputs ---------------------------------------------------------------------------
    def checkpoint_meta(self) -> dict[str, Any]:
        return model_metadata(
            self.model, self.model_entry, dataset=self.config.dataset, dataset_config=self.dataset_config,
            data_shape=self.dataset.shape, normalisation=getattr(self.dataset, "normalisation", {}) or {},
            step=self.step, dataset_entry=self.dataset_entry,
        )

    def save_checkpoint(self) -> Path:
        """Write ``checkpoints/step-N`` atomically (both files, then one rename) and prune old ones."""
        root = self.run_dir / CHECKPOINT_DIR
        final = root / f"step-{self.step:08d}"
        tmp = root / f".step-{self.step:08d}.tmp"
        live = self.model.state_dict()
        published = self.average.tensors if self.average is not None else live
        bad = [name for name, p in [*live.items(), *published.items()] if p.is_floating_point() and not bool(torch.isfinite(p).all())]
        if bad:
            raise TrainingDiverged(f"the weights became non-finite by step {self.step} ({bad[0]}); not saving them")
        try:
            if tmp.exists():
                shutil.rmtree(tmp)
            tmp.mkdir(parents=True)
            # The live weights go into the training state before the average is swapped into them.
            save_train_state(
                tmp / STATE_FILENAME,
                optimizers=self.optimizers,
                scalers=self.options.scalers,
                step=self.step,
                data_position=self.stream.position(),
                fixed_noise=self.fixed_noise,
                live_weights=state_tensors(self.model) if self.average is not None else None,
                replaced_by_fit=self._unscheduled_fit,
            )
            with self.averaged():
                save_model(tmp / MODEL_FILENAME, self.model, self.checkpoint_meta())
            if final.exists():
                shutil.rmtree(final)
            tmp.rename(final)
            fsync_dir(root)
        except BaseException as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            if not (is_write_failure(exc) or isinstance(exc, OutputError)):
                raise
            previous = latest_checkpoint(self.run_dir)
            kept = f"; {previous.name} is intact" if previous else ""
            reason = str(exc).rsplit(": ", 1)[-1] if isinstance(exc, OutputError) else (getattr(exc, "strerror", None) or exc)
            raise CheckpointWriteError(f"could not write checkpoint step {self.step} in {root}: {reason}{kept}") from None
        for old in checkpoint_dirs(self.run_dir)[: -self.config.train.keep_last]:
            shutil.rmtree(old, ignore_errors=True)
        return final

    def refit_prior(self) -> dict[str, dict[str, torch.Tensor]]:
        """Let the model fit its sampling prior (``GenerativeModel.fit_prior``) to the first
        ``prior_fit_images`` training images, on the weights it publishes; the fitted state goes into
        the live weights and the average alike, so the average keeps it exactly (a lerp between equal
        values) and a resumed run refits from the same state. Returns what the fit replaced
        (``{"live": ..., "average": ...}``, by state-dict name), for :meth:`save_checkpoint`."""
        previous: dict[str, dict[str, torch.Tensor]] = {"live": {}, "average": {}}
        count = min(int(self.model.prior_fit_images), len(self.dataset))
        if count <= 0:
            return previous
        batches = leading_batches(self.dataset, count, self.config.train.batch_size, self.device)
        was_training = self.model.training
        with torch.no_grad(), self.averaged():
            before = {name: t.clone() for name, t in self.model.state_dict().items()}
            self.model.eval()
            try:
                self.model.fit_prior(batches)
            finally:
                self.model.train(was_training)
            fitted = {name: t.clone() for name, t in self.model.state_dict().items() if not torch.equal(t, before[name])}
        live = self.model.state_dict()
        with torch.no_grad():
            for name, value in fitted.items():
                previous["live"][name] = live[name].detach().clone()
                live[name].copy_(value)
                if self.average is not None:
                    previous["average"][name] = before[name]
                    self.average.tensors[name].copy_(value)
        return previous

    def averaged(self) -> AbstractContextManager[None]:
        """A block in which the model holds the weights it publishes (the average, when kept)."""
        return self.average.applied() if self.average is not None else nullcontext()

    def save_samples(self) -> Path:
        was_training = self.model.training
        self.model.eval()
        with torch.no_grad(), self.options.autocast(), self.averaged():
            images = self.model.generate(self.fixed_noise)
        self.model.train(was_training)
        for logger in self.loggers:
            logger.log_images(self.step, "samples", images)
        return save_grid(images, self.run_dir / "samples" / f"step-{self.step:08d}.png")

    # --- the loop ----------------------------------------------------------------------------
    def _install_signal_handlers(self) -> dict[int, Any]:
        previous = {}

        def handler(signum: int, frame: Any) -> None:
            if self._stop_signal is not None:  # a second signal: stop now
                signal.signal(signum, previous.get(signum, signal.SIG_DFL))
                raise KeyboardInterrupt
            self._stop_signal = signum

        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                previous[signum] = signal.signal(signum, handler)
            except ValueError:  # not in the main thread
                pass
        return previous

    def fit(self, on_log: Callable[[dict[str, Any]], None] | None = None) -> RunResult:
        """Train to ``total_steps`` (resuming if the run folder has a checkpoint)."""
        self._setup()
        if not self.dist.is_main:
            self.loggers = []
        created = not self.run_dir.exists()  # the lock may create it: if the run then fails early, it goes again
        lock = RunFolderLock(self.run_dir)
        try:
            self._hold_run_folder(lock)
            result = self._fit(on_log)
            barrier(self.dist)  # rank 0 writes the final files alone: tear the group down together
            return result
        except OutputError:  # a full or read-only disk before the first checkpoint: leave no empty run behind
            if created and self.dist.is_main and not checkpoint_dirs(self.run_dir):
                self._close_loggers()  # a tracker writing into the folder must let go of it first
                shutil.rmtree(self.run_dir, ignore_errors=True)
            raise
        finally:
            self._close_loggers()
            lock.release()
            shutdown_distributed(self.dist)

    def _hold_run_folder(self, lock: RunFolderLock) -> None:
        """Rank 0 locks the folder for all ranks (they share it); if another process holds it, every rank stops."""
        busy = None
        if self.dist.is_main:
            try:
                lock.acquire()
            except RunFolderBusy as exc:
                busy = exc
        free = min_across_ranks(torch.tensor([0.0 if busy else 1.0], device=self.device), self.dist)
        if busy is not None or not free.item():
            raise busy or RunFolderBusy(f"{self.run_dir} is being trained by another process (found by rank 0)")

    def _close_loggers(self) -> None:
        loggers, self.loggers = self.loggers, []
        for logger in loggers:
            logger.close()

    def run_info(self) -> dict[str, Any]:
        """What the start line and the trackers are told about the run."""
        return {
            "model": self.config.model, "dataset": self.config.dataset, "run_dir": str(self.run_dir),
            "device": str(self.device), "parameters": sum(p.numel() for p in self.model.parameters()),
            "steps": self.total_steps, "batch_size": self.config.train.batch_size, "world": self.dist.world,
            "start_step": self.step, "config": self.config.to_dict(),
        }

    def _fit(self, on_log: Callable[[dict[str, Any]], None] | None) -> RunResult:
        main = self.dist.is_main
        if self.run_dir.exists() and not self.run_dir.is_dir():
            raise ConfigError(f"{self.run_dir} is a file, not a run folder; choose another --out")
        if main and self.run_dir.is_dir():
            clean_leftovers(self.run_dir)
        barrier(self.dist)
        folders = checkpoint_dirs(self.run_dir, include_damaged=True)
        if folders:
            self._resume(folders)
        elif main:  # a fresh start in a folder whose earlier run died before its first checkpoint
            trim_metrics(self.run_dir / "metrics.jsonl", 0)
        if main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self.config.save(self.run_dir / CONFIG_FILENAME)
        model = self._wrap()
        self.model.train()
        train = self.config.train
        previous_handlers = self._install_signal_handlers()
        sums: dict[str, torch.Tensor] = {}
        count, window_start, images_per_step = 0, time.perf_counter(), train.batch_size * self.batches_per_step * self.dist.world
        progress = TrainingProgress(self.total_steps, self.step, self.show_progress if main else "none", images_per_step)
        info = self.run_info()
        progress.announce(info)
        for logger in self.loggers:
            logger.start(info)
        first = True
        try:
            with progress:
                while self.step < self.total_steps:
                    if train.lr_decay:
                        factor = lr_schedule.lr_factor(self.step + 1, self.total_steps, train.lr_decay)
                        lr_schedule.apply(self.optimizers, self.base_lrs, factor)
                    # The step number this iteration is logged and checkpointed under.
                    logged = run_iteration(model, self.players, self.optimizers, self.stream, step=self.step + 1, options=self.options)
                    self.step += 1
                    if self.average is not None:
                        self.average.update(self.step)
                    if first and progress.enabled:  # losses on screen from the first step (one sync, once)
                        progress.first_losses({k: float(v) for k, v in logged.items()})
                    first = False
                    for key, value in logged.items():
                        sums[key] = sums[key] + value if key in sums else value.clone()
                    count += 1
                    last = self.step == self.total_steps
                    log_now = self.step % train.log_every == 0 or last
                    if log_now:
                        # Host synchronisations happen only here and before samples and
                        # checkpoints, so a diverged model is never logged as good or saved.
                        self._check_finite()
                        elapsed = time.perf_counter() - window_start
                        values = mean_across_ranks(_window_means(sums, count), self.dist, self.device)
                        record = {"step": self.step, "epoch": self.stream.epoch, "time": round(time.time(), 3),
                                  "images_per_s": round(images_per_step * count / max(elapsed, 1e-9), 2), **values}
                        if main:
                            append_jsonl(self.run_dir / "metrics.jsonl", record)
                            for logger in self.loggers:
                                logger.log_metrics(self.step, record)
                        progress.update(self.step, record)
                        if on_log:
                            on_log(record)
                        sums, count, window_start = {}, 0, time.perf_counter()
                    else:
                        progress.update(self.step, None)
                    stop = self._stop_signal is not None
                    sample_now = bool(train.sample_every) and (self.step % train.sample_every == 0 or last)
                    checkpoint_now = bool(train.checkpoint_every and self.step % train.checkpoint_every == 0) or last or stop
                    if (sample_now or checkpoint_now) and not log_now:
                        self._check_finite()
                    if checkpoint_now:
                        average_buffers(self.model, self.dist)
                        if self.average is not None:  # the published statistics too, not rank 0's alone
                            average_tensors(self.average.float_buffers, self.dist)
                        replaced = self.refit_prior()  # every rank, from the same images and weights
                        # A fit off the checkpoint_every schedule (the last step, a stop) is for the
                        # published file: a resume puts back what it replaced, so a model whose training
                        # reads its prior (wgan-gp's cluster critic) continues as an unbroken run would.
                        scheduled = bool(train.checkpoint_every) and self.step % train.checkpoint_every == 0
                        self._unscheduled_fit = None if scheduled else replaced
                    if sample_now and main:
                        self.save_samples()
                    if checkpoint_now:
                        if main:
                            self.save_checkpoint()
                        barrier(self.dist)  # no rank runs ahead of (or exits before) the saved state
                    if stop:
                        name = signal.Signals(self._stop_signal).name
                        raise Interrupted(
                            f"{name} received: stopped at step {self.step} after saving a checkpoint; "
                            f"continue with: genzoo run {self.config.model} --resume {self.run_dir}"
                        )
        except TrainingDiverged as exc:
            previous = latest_checkpoint(self.run_dir)
            kept = f"; the last good checkpoint is {previous}" if previous else "; no checkpoint was written yet"
            raise TrainingDiverged(f"{exc}{kept}") from None
        finally:
            for signum, handler in previous_handlers.items():
                signal.signal(signum, handler)
        model_path = self.run_dir / MODEL_FILENAME
        if main:
            final = latest_checkpoint(self.run_dir)
            atomic_write(model_path, lambda tmp: shutil.copyfile(final / MODEL_FILENAME, tmp))
            if not train.sample_every:
                self.save_samples()
            plot_loss_curves(self.run_dir / "metrics.jsonl", self.run_dir / "loss_curves.png",
                             title=f"{self.config.model} on {self.config.dataset}")
        return RunResult(self.run_dir, self.step, model_path)


def _window_means(sums: dict[str, torch.Tensor], count: int) -> dict[str, float]:
    """Mean of each logged term over the window, read back from the device in one transfer."""
    if not sums:
        return {}
    keys = list(sums)
    means = (torch.stack([sums[k] for k in keys]) / count).tolist()
    return dict(zip(keys, means))


def train(config: RunConfig, run_dir: str | Path, *, registry: Any = None, progress: bool | str = False) -> RunResult:
    """Train (or resume) a run; the programmatic twin of ``genzoo run``."""
    return Trainer(config, run_dir, registry=registry, progress=progress).fit()
