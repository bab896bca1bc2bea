"""Prepare a DICOM collection into a memory-mappable cache, rebuilding only what changed.

Cache folder layout (one per source folder, mode and size)::

    manifest.json        source files (path, size, mtime) with their header records, skipped
                         files with reasons, series, patients per split, parameters
    series/<key>.npy     float16 samples of one series; key = hash(parameters, files, sizes, mtimes)
    train.npy, test.npy  float16 (N, 1, S, S) or (N, 1, S, S, S), opened with mmap_mode

Steps: walk and stat the tree; read headers (in worker processes) only of files that are new or
whose size or mtime changed; group by series and order slices (:mod:`.series`); assign patients
to splits; prepare (in worker processes, one series per task) only series whose key has no
``series/<key>.npy`` yet; assemble each split by copying series files one at a time into a
memory-mapped ``.npy`` (bounded memory), and only when its list of series changed. Every file is
written atomically.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from genzoo.errors import DataError
from genzoo_datasets.cache import cache_root, commit_temp, ensure_dir, save_json_atomic, temp_path_for
from genzoo_datasets.configs import PancreasConfig
from genzoo_datasets.pancreas import process, scan, series as series_mod
from genzoo_datasets.pancreas.report import found_description, summary_lines

MANIFEST_FORMAT = "genzoo-pancreas-cache/1"
MANIFEST_NAME = "manifest.json"
SPLITS = ("train", "test")
HEADER_CHUNK = 64
AUTO_WORKERS_MIN_FILES = 200  # below this, worker start-up costs more than it saves


@dataclass
class PrepareResult:
    """What :func:`prepare` did, for the CLI and for tests."""

    folder: Path
    manifest: dict[str, Any]
    headers_read: int = 0
    series_built: int = 0
    series_reused: int = 0
    splits_written: list[str] = field(default_factory=list)

    def split_path(self, split: str) -> Path:
        return self.folder / self.manifest["splits"][split]["file"]


def default_cache_folder(source: Path, config: PancreasConfig) -> Path:
    """``<cache>/pancreas/<folder-name>-<hash of absolute path>/<mode>-<size>``."""
    base = Path(config.cache_dir).expanduser() if config.cache_dir else cache_root() / "pancreas"
    resolved = str(source.resolve())
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", source.resolve().name)[:40] or "root"
    digest = hashlib.sha256(resolved.encode()).hexdigest()[:10]
    return base / f"{slug}-{digest}" / f"{config.mode}-{config.size}"


def load_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest in ``folder`` if it is one of ours, else ``None``."""
    path = folder / MANIFEST_NAME
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("format") == MANIFEST_FORMAT else None


def resolve_workers(requested: int, n_files: int) -> int:
    """Explicit count, or one per core (at most 8) for collections big enough to benefit."""
    if requested > 0:
        return requested
    if n_files < AUTO_WORKERS_MIN_FILES:
        return 1
    return max(1, min(8, os.cpu_count() or 1))


class _InlineExecutor:
    """``map`` in this process: no start-up cost for small jobs, and easy to debug."""

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any]) -> Iterator[Any]:
        return map(fn, *iterables)

    def __enter__(self) -> _InlineExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def make_executor(workers: int) -> Executor | _InlineExecutor:
    """A process pool; inline for one worker.

    On Linux the pool forks: workers start in milliseconds and only run numpy and pydicom code
    (never torch or the progress bar), so the usual fork hazards (a lock held by another thread,
    an OpenMP pool) do not apply. ``forkserver``/``spawn`` re-import the caller's ``__main__`` in
    every worker, which costs seconds per worker once torch is imported (measured: 9 s for two
    workers vs 0.07 s with fork). Elsewhere the platform default is used.
    """
    if workers <= 1:
        return _InlineExecutor()
    method = "fork" if sys.platform.startswith("linux") else None
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method))


def _progress(enabled: bool):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not enabled,
        transient=False,
    )


def scan_headers(
    root: Path, listing: list[tuple[str, int, int]], old_files: dict[str, Any], executor: Any, progress: Any
) -> tuple[dict[str, dict[str, Any]], int]:
    """Header records by path, reading only new or changed files. Returns (records, headers read)."""
    records: dict[str, dict[str, Any]] = {}
    todo: list[tuple[str, int, int]] = []
    for rel, size, mtime in listing:
        old = old_files.get(rel)
        if old is not None and old.get("size") == size and old.get("mtime_ns") == mtime:
            records[rel] = old
        else:
            todo.append((rel, size, mtime))
    task = progress.add_task("reading DICOM headers", total=len(todo))
    chunks = [[rel for rel, _, _ in todo[i : i + HEADER_CHUNK]] for i in range(0, len(todo), HEADER_CHUNK)]
    stats = {rel: (size, mtime) for rel, size, mtime in todo}
    for chunk_result in executor.map(scan.read_headers, [str(root)] * len(chunks), chunks):
        for record in chunk_result:
            record["size"], record["mtime_ns"] = stats[record["file"]]
            records[record["file"]] = record
        progress.advance(task, len(chunk_result))
    return records, len(todo)


def split_patients(patients: list[str], test_fraction: float) -> dict[str, str]:
    """``{patient: split}``: patients ordered by a hash of their ID, the first ``round(f * n)``
    (at least one when there are two or more patients and ``f > 0``) go to test. Deterministic and
    independent of file order, and a patient's slices never straddle splits."""
    ordered = sorted(set(patients), key=lambda p: hashlib.sha256(p.encode()).hexdigest())
    n_test = round(test_fraction * len(ordered))
    if test_fraction > 0 and len(ordered) >= 2:
        n_test = min(max(n_test, 1), len(ordered) - 1)
    return {p: ("test" if i < n_test else "train") for i, p in enumerate(ordered)}


def series_key(params: dict[str, Any], built: series_mod.Series, records: dict[str, dict[str, Any]]) -> str:
    """Hash of everything that determines a series' prepared samples."""
    files = [(rel, records[rel]["size"], records[rel]["mtime_ns"]) for rel in built.files]
    payload = json.dumps([MANIFEST_FORMAT, params, built.uid, files], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:24]


def series_job(root: Path, folder: Path, built: series_mod.Series, key: str, params: dict[str, Any]) -> dict[str, Any]:
    """The picklable task :func:`process.process_series` runs for one series."""
    return {
        "root": str(root),
        "key": key,
        "out": str(folder / "series" / f"{key}.npy"),
        "uid": built.uid,
        "files": built.files,
        "slopes": built.slopes,
        "intercepts": built.intercepts,
        "spacing": list(built.spacing),
        "shape": list(built.shape),
        "transpose": built.transpose,
        "flip_rows": built.flip_rows,
        "flip_cols": built.flip_cols,
        "params": params,
    }


def assemble_split(folder: Path, split: str, entries: list[dict[str, Any]], sample_shape: tuple[int, ...]) -> Path:
    """Concatenate the series files of one split into ``<split>.npy``, one series at a time."""
    target = folder / f"{split}.npy"
    total = sum(e["count"] for e in entries)
    tmp = temp_path_for(target)
    try:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float16, shape=(total, *sample_shape))
        offset = 0
        for entry in entries:
            if entry["count"]:
                part = np.load(folder / "series" / f"{entry['key']}.npy", mmap_mode="r")
                out[offset : offset + len(part)] = part
                offset += len(part)
        out.flush()
        del out
        commit_temp(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()
    return target


def prepare(
    source: str | Path,
    config: PancreasConfig | None = None,
    *,
    folder: Path | None = None,
    progress: bool = True,
    stream: IO[str] | None = None,
) -> PrepareResult:
    """Prepare (or bring up to date) the cache of ``source`` for ``config``; see the module doc."""
    config = config or PancreasConfig()
    stream = stream or sys.stderr
    root = Path(source).expanduser()
    if not root.is_dir():
        raise DataError(f"pancreas: {root} is not a folder; pass the downloaded TCIA Pancreas-CT folder (or a synth-ct one)")
    folder = folder or default_cache_folder(root, config)
    ensure_dir(folder / "series")
    old = load_manifest(folder) or {}
    listing = scan.walk_files(root, exclude=folder)
    if not listing:
        raise DataError(f"pancreas: no files under {root}; pass the folder that holds the PANCREAS_* patient folders")
    workers = resolve_workers(config.workers, len(listing))
    result = PrepareResult(folder=folder, manifest={})
    with _progress(progress) as bar, make_executor(workers) as executor:
        records, result.headers_read = scan_headers(root, listing, old.get("files", {}), executor, bar)
        manifest = build_manifest(root, folder, config, records, old, executor, bar, result)
    result.manifest = manifest
    save_json_atomic(folder / MANIFEST_NAME, manifest)
    report(result, len(listing), stream)
    return result


def build_manifest(
    root: Path,
    folder: Path,
    config: PancreasConfig,
    records: dict[str, dict[str, Any]],
    old: dict[str, Any],
    executor: Any,
    bar: Any,
    result: PrepareResult,
) -> dict[str, Any]:
    """Group, order, split, prepare changed series and assemble splits; return the new manifest."""
    params = config.output_params()
    skips = [r for r in records.values() if r["category"] != "ok"]
    good = [r for r in records.values() if r["category"] == "ok"]
    built: list[series_mod.Series] = []
    for uid, members in series_mod.group_series(good).items():
        one, series_skips = series_mod.build_series(
            uid, members, tolerance=config.spacing_tolerance, mode=config.mode, min_slices=config.min_slices
        )
        skips.extend(series_skips)
        if one is not None:
            built.append(one)
    if not built:
        raise DataError(
            f"pancreas: no usable axial CT series under {root}; found {found_description(skips, len(records))}"
        )
    assignment = split_patients([s.patient for s in built], config.test_fraction)
    old_series = {s["key"]: s for s in old.get("series", [])}
    entries, jobs = [], []
    for one in sorted(built, key=lambda s: (s.patient, s.uid)):
        key = series_key(params, one, records)
        entry = {**one.describe(), "key": key, "split": assignment[one.patient]}
        previous = old_series.get(key)
        if previous is not None and (folder / "series" / f"{key}.npy").is_file():
            entry.update(count=previous["count"], skips=previous.get("skips", []), error=previous.get("error"))
            result.series_reused += 1
        else:
            jobs.append(series_job(root, folder, one, key, params))
        entries.append(entry)
    by_key = {e["key"]: e for e in entries}
    task = bar.add_task("preparing series", total=sum(len(j["files"]) for j in jobs))
    for job, outcome in zip(jobs, executor.map(process.process_series, jobs)):
        entry = by_key[job["key"]]
        entry.update(count=outcome["count"], skips=outcome["skips"], error=outcome["error"])
        result.series_built += 1
        bar.advance(task, len(job["files"]))
    for entry in entries:
        skips.extend(entry["skips"])
    sample_shape = (1, config.size, config.size) if config.mode == "2d" else (1, config.size, config.size, config.size)
    splits = {}
    for split in SPLITS:
        members = [e for e in entries if e["split"] == split and not e["error"]]
        keys = [e["key"] for e in members]
        previous = old.get("splits", {}).get(split, {})
        if previous.get("keys") != keys or not (folder / f"{split}.npy").is_file():
            assemble_split(folder, split, members, sample_shape)
            result.splits_written.append(split)
        splits[split] = {
            "file": f"{split}.npy",
            "count": sum(e["count"] for e in members),
            "shape": list(sample_shape),
            "patients": sorted({e["patient"] for e in members}),
            "keys": keys,
        }
    live = {f"{e['key']}.npy" for e in entries}
    for stale in (folder / "series").glob("*.npy"):
        if stale.name not in live:
            stale.unlink()
    if splits["train"]["count"] + splits["test"]["count"] == 0:
        raise DataError(
            f"pancreas: {len(built)} CT series found under {root} but no slice survived"
            + (" the body_only filter; lower min_body_fraction" if config.body_only else " decoding")
        )
    return {
        "format": MANIFEST_FORMAT,
        "source": str(root.resolve()),
        "params": params,
        "sample_shape": list(sample_shape),
        "normalisation": normalisation(config),
        "splits": splits,
        "series": entries,
        "skipped": sorted(skips, key=lambda s: s["file"]),
        "files": records,
    }


def normalisation(config: PancreasConfig) -> dict[str, Any]:
    """The normalisation record stored in the manifest and in checkpoints."""
    low = config.window_level - config.window_width / 2
    return {
        "source": "CT Hounsfield units",
        "window": {"width": config.window_width, "level": config.window_level},
        "scale": f"2 * (clip(HU, {low:g}, {low + config.window_width:g}) - ({low:g})) / {config.window_width:g} - 1",
        "range": [-1.0, 1.0],
    }


def report(result: PrepareResult, total_files: int, stream: IO[str]) -> None:
    """Warning summary on ``stream`` (stderr): full when anything was rebuilt, one line otherwise."""
    manifest = result.manifest
    skipped = manifest["skipped"]
    manifest_path = str(result.folder / MANIFEST_NAME)
    if result.headers_read or result.series_built or result.splits_written:
        for line in summary_lines(skipped, total_files, manifest_path):
            print(line, file=stream)
        for entry in manifest["series"]:
            for gap in entry["gaps"]:
                print(f"pancreas: series {entry['uid']} ({entry['patient']}): spacing gap, {gap}", file=stream)
    elif skipped:
        print(f"pancreas: using {result.folder}; {len(skipped)} files were skipped when it was built (see {manifest_path})", file=stream)
