"""Summaries of run folders, for ``genzoo runs``: what was trained, how far, the last losses, the scores.

A run folder is one with a ``config.json`` holding a ``train`` table (what ``genzoo run`` writes);
its ``metrics.jsonl`` gives the progress and last losses and its ``eval.json`` (written by
``genzoo eval RUN``) the scores.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genzoo.errors import ConfigError
from genzoo.safejson import loads_bounded, printable

CONFIG_FILENAME, METRICS_FILENAME, EVAL_FILENAME, MODEL_FILENAME = "config.json", "metrics.jsonl", "eval.json", "model.safetensors"


MAX_JSON_BYTES = 4 * 2**20  # a config.json or eval.json is a few KiB; anything far larger is not ours


def _read_json(path: Path) -> Any:
    """The file's JSON value, or None when it is unreadable, too large, too deep or not JSON."""
    try:
        return loads_bounded(path.read_bytes(), str(path), ConfigError, max_bytes=MAX_JSON_BYTES)
    except (OSError, ConfigError):
        return None


def _number(value: Any) -> float | int | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return printable(value, 200) if isinstance(value, str) else None


def is_run_folder(path: Path) -> bool:
    config = _read_json(path / CONFIG_FILENAME) if (path / CONFIG_FILENAME).is_file() else None
    return isinstance(config, dict) and isinstance(config.get("train"), dict) and "model" in config


def find_runs(paths: list[Path]) -> list[Path]:
    """The run folders among ``paths`` and their sub-folders (two levels deep), sorted by path."""
    found: set[Path] = set()
    for path in paths:
        if not path.is_dir():
            raise ConfigError(f"{path} is not a folder; give run folders or folders of runs (default: runs/)")
        if is_run_folder(path):
            found.add(path)
            continue
        for child in [*path.glob("*"), *path.glob("*/*")]:
            if child.is_dir() and is_run_folder(child):
                found.add(child)
    return sorted(found)


TAIL_BYTES = 1 << 16  # the last log lines are all that is shown


def _last_metrics(path: Path) -> dict[str, Any]:
    """The last complete record of ``metrics.jsonl``, read from the file's end (logs grow long)."""
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as handle:
            handle.seek(max(0, handle.seek(0, 2) - TAIL_BYTES))
            tail = handle.read(TAIL_BYTES)
    except OSError:
        return {}
    for line in reversed(tail.decode("utf-8", errors="replace").splitlines()):
        try:
            record = loads_bounded(line, "metrics line", ConfigError, max_bytes=MAX_JSON_BYTES)
        except ConfigError:
            continue  # a line cut by a crash (or by the tail's start), or one that is not ours
        if isinstance(record, dict):
            return record
    return {}


def _time(value: Any) -> float | None:
    """A plausible UNIX time (1970 to 3000), else None: the table formats it as a date."""
    value = _number(value)
    return float(value) if value is not None and 0 <= value < 32_503_680_000 else None


def summarise(run: Path) -> dict[str, Any]:
    """One run folder as a JSON-ready dict."""
    config = _read_json(run / CONFIG_FILENAME)
    train = config["train"]
    last = _last_metrics(run / METRICS_FILENAME)
    evaluation = _read_json(run / EVAL_FILENAME) if (run / EVAL_FILENAME).is_file() else None
    scores = {}
    results = evaluation.get("results") if isinstance(evaluation, dict) else None
    if isinstance(results, list):
        scores = {r["metric"]: r["value"] for r in results
                  if isinstance(r, dict) and isinstance(r.get("metric"), str) and r.get("status") == "ok"
                  and _number(r.get("value")) is not None}
    total = _number(train.get("steps")) if not train.get("epochs") else None
    # Every value is anyone's text or number: keep only what has the expected type, printable.
    return {
        "run": printable(run, 400),
        "model": _text(config["model"]) or "?",
        "dataset": _text(config.get("dataset")),
        "step": _number(last.get("step")) or 0,
        "steps": total,
        "finished": (run / MODEL_FILENAME).is_file(),
        "updated": _time(last.get("time")),
        "images_per_s": _number(last.get("images_per_s")),
        "losses": {printable(k, 60): v for k, v in last.items()
                   if "/" in k and k.endswith("/loss") and _number(v) is not None},
        "eval": {printable(k, 60): v for k, v in scores.items()},
    }
