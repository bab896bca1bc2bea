"""What a resumed run finds in its folder: verified checkpoints, leftovers, its metrics log.

A run killed at any moment leaves at most: a half-written ``checkpoints/.step-N.tmp/``, a
temporary ``.NAME.tmp-PID`` of an atomic write (the final model copy, a grid, the metrics trim),
a partial last line in ``metrics.jsonl`` (a full disk) or lines logged after its newest
checkpoint; a checkpoint may also have been damaged since. :func:`clean_leftovers` removes the
temporaries, :func:`load_newest_valid` verifies checkpoints newest first (each skipped one is
reported in one line) and :func:`trim_metrics` keeps exactly one line per logged step up to the
step the run continues from.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

from genzoo.checkpoint import MODEL_FILENAME, atomic_write, check_finite, check_state, read_metadata
from genzoo.errors import CheckpointError, ConfigError
from genzoo.safejson import loads_bounded, printable
from genzoo.train_state import STATE_FILENAME, load_train_state

CHECKPOINT_DIR = "checkpoints"
METRICS_FILENAME = "metrics.jsonl"
HISTORY_FILENAME = "config_history.jsonl"
MAX_CONFIG_BYTES = 16 * 1024 * 1024
_TEMPORARY = re.compile(r"\..+\.tmp-[0-9]+")
_STAGING = re.compile(r"\.step-[0-9]+\.tmp")


def notice(message: str) -> None:
    """One line on stderr about something the run did on its own (skipped, removed, changed)."""
    print(f"genzoo: {printable(message, 2000)}", file=sys.stderr)


def clean_leftovers(run_dir: Path) -> list[str]:
    """Remove what interrupted writes left behind; returns the names removed."""
    removed = []
    folders = [run_dir, run_dir / "samples", run_dir / CHECKPOINT_DIR]
    folders += [p for p in (run_dir / CHECKPOINT_DIR).glob("step-*") if p.is_dir() and not p.is_symlink()]
    for folder in folders:
        if not folder.is_dir():
            continue
        for item in folder.iterdir():
            if _TEMPORARY.fullmatch(item.name) and (item.is_file() or item.is_symlink()):
                item.unlink(missing_ok=True)
            elif folder.name == CHECKPOINT_DIR and _STAGING.fullmatch(item.name):
                if item.is_dir() and not item.is_symlink():
                    shutil.rmtree(item, ignore_errors=True)
                else:
                    item.unlink(missing_ok=True)
            else:
                continue
            removed.append(str(item.relative_to(run_dir)))
    if removed:
        notice(f"removed {len(removed)} leftover(s) of an interrupted write: {', '.join(sorted(removed)[:4])}")
    return removed


def load_checkpoint(
    folder: Path, expected: dict[str, Any] | None = None, optional: tuple[str, ...] = ()
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verify a checkpoint folder (against the model's ``expected`` state dict, if given) and read it:
    ``(model weights, training state)``; else CheckpointError."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    for name in (MODEL_FILENAME, STATE_FILENAME):
        if (folder / name).is_symlink():
            raise CheckpointError(f"{name} is a symbolic link; genzoo writes real files there")
    read_metadata(folder / MODEL_FILENAME)
    state = load_train_state(folder / STATE_FILENAME)
    try:
        weights = load_file(str(folder / MODEL_FILENAME), device="cpu")
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{folder / MODEL_FILENAME} could not be read as safetensors: {exc}") from None
    check_finite(weights, str(folder / MODEL_FILENAME))
    if expected is not None:
        found = {k: (str(v.dtype), v.is_floating_point(), list(v.shape)) for k, v in weights.items()}
        check_state(expected, found, f"{MODEL_FILENAME} does not fit the model as configured now", optional)
    if state["live"]:  # the live weights of a run that publishes their average (genzoo.averaging)
        check_finite(state["live"], str(folder / STATE_FILENAME))
        found = {k: (str(v.dtype), v.is_floating_point(), list(v.shape)) for k, v in state["live"].items()}
        check_state(expected if expected is not None else weights, found,
                    f"{STATE_FILENAME}: its live weights do not fit the model as configured now", optional)
    if int(read_metadata(folder / MODEL_FILENAME)["step"]) != state["step"]:
        raise CheckpointError(f"{folder}: the model and training state are from different steps")
    return weights, state


def load_newest_valid(
    run_dir: Path, folders: list[Path], expected: dict[str, Any] | None = None, optional: tuple[str, ...] = ()
) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """The newest checkpoint of ``folders`` (oldest first) that verifies; each skipped one is one line."""
    reasons = []
    for folder in reversed(folders):
        try:
            weights, state = load_checkpoint(folder, expected, optional)
        except CheckpointError as exc:
            reason = str(exc).replace(str(folder) + "/", "").replace(str(folder), "the folder")
            reasons.append(f"{folder.name}: {reason}")
            notice(f"skipping checkpoint {folder.name} of {run_dir}: {reason}")
            continue
        return folder, weights, state
    raise CheckpointError(f"{run_dir} has no usable checkpoint ({'; '.join(reasons)[:600]}); start a new run")


def newest_metadata(folders: list[Path]) -> dict[str, Any]:
    """The model metadata of the newest of ``folders`` whose header reads, else ``{}``."""
    for folder in reversed(folders):
        try:
            return read_metadata(folder / MODEL_FILENAME)
        except CheckpointError:
            continue
    return {}


def read_run_config(run_dir: Path) -> dict[str, Any]:
    """A run folder's ``config.json`` as a dict; a missing or damaged one is one ConfigError line."""
    path = Path(run_dir) / "config.json"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{run_dir} has checkpoints but no config.json; cannot resume it") from None
    except OSError as exc:
        raise ConfigError(f"{path} cannot be read: {exc.strerror or exc}") from None
    data = loads_bounded(raw, str(path), ConfigError, max_bytes=MAX_CONFIG_BYTES)
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a JSON object; cannot resume {run_dir}")
    return data


def trim_metrics(path: Path, step: int) -> None:
    """Keep one line per logged step up to ``step``; drop partial, garbled and repeated lines."""
    if not path.is_file():
        return
    lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()
    kept, last = [], 0
    for line in lines:
        try:
            record = json.loads(line) if len(line) < 1_000_000 else None
        except (json.JSONDecodeError, RecursionError):
            record = None
        logged = record.get("step") if isinstance(record, dict) else None
        if isinstance(logged, int) and not isinstance(logged, bool) and last < logged <= step:
            kept.append(line)
            last = logged
    if len(kept) != len(lines):
        atomic_write(path, lambda tmp: tmp.write_text("".join(line + "\n" for line in kept)))


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line; on a failed write the partial line is cut off again."""
    line = (json.dumps(record) + "\n").encode()
    with path.open("ab") as handle:
        start = handle.tell()
        try:
            handle.write(line)
            handle.flush()
        except OSError:
            try:
                handle.truncate(start)
            except OSError:
                pass
            raise


def record_history(run_dir: Path, step: int, changes: dict[str, Any]) -> None:
    """Note in ``config_history.jsonl`` which settings a resume changed, from which step on."""
    import time

    entry = {"step": step, "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "changed": changes}
    append_jsonl(run_dir / HISTORY_FILENAME, entry)


def flatten(values: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    if not isinstance(values, dict):
        return {prefix.rstrip("."): values}
    flat: dict[str, Any] = {}
    for key, value in values.items():
        flat.update(flatten(value, f"{prefix}{key}."))
    return flat


def is_optimiser_setting(path: str) -> bool:
    """``lr``, ``betas``, ``critic_lr``, ``loss.gen_betas``...: settings only the optimisers read."""
    last = path.rsplit(".", 1)[-1]
    return last in ("lr", "betas") or last.endswith(("_lr", "_betas"))

