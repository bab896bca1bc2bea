"""``genzoo push``: publish a run, a model folder or a checkpoint file as a new registry version.

Publishing never overwrites: a version is a new folder ``<name>/<version>/`` and a new index
entry, and an existing ``name@version`` is refused. It happens under a lock file
(``.index.lock``, created with O_EXCL, which also works on shared file systems), files are staged
in a hidden folder and renamed into place, and ``index.json`` is replaced atomically (temp file,
fsync, rename) as the last step, so readers see either the old index or the new one, and never an
entry whose files are incomplete.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from genzoo.checkpoint import MODEL_FILENAME, atomic_write, describe_write_failure, read_header, read_metadata
from genzoo.errors import CheckpointError, OutputError
from genzoo.hub.cache import _make_dirs, _remove_empty, sha256_file
from genzoo.hub.card import (
    CARD_FILENAME,
    CONFIG_FILENAME,
    DEFAULT_LICENSE,
    export_run,
    metrics_of,
    read_eval,
    read_json,
    refresh_card,
)
from genzoo.hub.index import INDEX_FILENAME, KIND_FORMATS, FileRecord, IndexEntry, RegistryError, check_name
from genzoo.hub.locations import FolderLocation, open_location
from genzoo.safejson import is_distribution_name, is_version, printable

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

LOCK_FILENAME = ".index.lock"
STALE_LOCK_S = 3600


@contextmanager
def index_lock(root: Path) -> Iterator[None]:
    """Hold the registry's publishing lock for the duration of the block.

    The lock file records its owner (``{"pid", "host", "time"}``). A lock whose owner is gone (same
    host, no such process) or older than :data:`STALE_LOCK_S` is stale: it is broken under a second,
    short-lived lock and judged again there (so a push never breaks the fresh lock of another push
    that broke the stale one first), and the partial folders it left are removed.
    """
    lock = root / LOCK_FILENAME
    fd = _take_lock(lock)
    if fd is None:
        reason = _stale_reason(lock)
        if reason is None:
            raise RegistryError(
                f"{lock} is held by {_describe_owner(lock)}: another push is publishing to this registry; "
                f"wait for it (a lock older than {STALE_LOCK_S // 60} minutes is broken automatically)"
            )
        broken = _break_stale_lock(lock)
        fd = _take_lock(lock) if broken is not None or not lock.exists() else None
        if fd is None:
            raise RegistryError(f"{lock} was taken by another push just now; try again")
        if broken is not None:
            print(f"genzoo: broke a stale lock on {root} ({broken})", file=sys.stderr)
    try:
        owner = {"pid": os.getpid(), "host": socket.gethostname(), "time": time.time()}
        os.write(fd, (json.dumps(owner) + "\n").encode())
        os.close(fd)
        _remove_stale_staging(root)
        yield
    finally:
        lock.unlink(missing_ok=True)


BREAKER_STALE_S = 60  # without fcntl: a breaker file this old was left by a push killed while breaking


def _break_stale_lock(lock: Path) -> str | None:
    """Remove ``lock`` if it is still stale when judged again under the breaker lock; returns why, or
    ``None`` when it is not stale any more (another push took it) or another push is breaking it.

    The breaker is an advisory ``flock`` on the registry folder where the system has one (released
    by the kernel when its holder dies, so it can never go stale); elsewhere an exclusively created
    ``.index.lock.break`` file.
    """
    breaker = lock.with_name(f"{LOCK_FILENAME}.break")
    fd = _hold_breaker(breaker)
    if fd is None:
        return None
    try:
        if not lock.exists():
            return None  # released, or broken by the push that held the breaker before us: take it normally
        reason = _stale_reason(lock)
        if reason is not None:
            lock.unlink(missing_ok=True)
        return reason
    finally:
        os.close(fd)
        if fcntl is None:
            breaker.unlink(missing_ok=True)


def _hold_breaker(breaker: Path) -> int | None:
    if fcntl is not None:  # an flock on the registry folder itself: no file to leave behind
        fd = os.open(breaker.parent, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return None
        return fd
    fd = _take_lock(breaker)
    if fd is None:
        try:
            if time.time() - breaker.stat().st_mtime > BREAKER_STALE_S:
                breaker.unlink()  # left by a push killed while breaking
        except FileNotFoundError:
            pass
        fd = _take_lock(breaker)
    return fd


def _take_lock(lock: Path) -> int | None:
    try:
        return os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return None


def _owner(lock: Path) -> dict | None:
    try:
        data = json.loads(lock.read_bytes()[:4096])
    except (OSError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _describe_owner(lock: Path) -> str:
    owner = _owner(lock) or {}
    return printable(f"pid {owner.get('pid', '?')} on {owner.get('host', '?')}", 120)


def _stale_reason(lock: Path) -> str | None:
    """Why the lock at ``lock`` is stale, or ``None`` while its owner may still be publishing."""
    try:
        age = time.time() - lock.stat().st_mtime
    except FileNotFoundError:
        return "it was released"
    owner = _owner(lock)
    if owner is not None and owner.get("host") == socket.gethostname() and isinstance(owner.get("pid"), int):
        if not _pid_alive(owner["pid"]):
            return f"its owner, pid {owner['pid']} on this host, is gone"
    if age > STALE_LOCK_S:
        return f"it is {age / 60:.0f} minutes old"
    if owner is None and age > 60:  # unreadable: no owner wrote it within a minute
        return "it names no owner"
    return None


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def _remove_stale_staging(root: Path) -> None:
    """Partial folders of pushes that died (we hold the lock, so no push is staging now)."""
    for folder in root.glob("*/.*.partial-*"):
        if folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder, ignore_errors=True)
        try:
            folder.parent.rmdir()  # a name folder that only ever held the partial one
        except OSError:
            pass


def check_publishable(path: Path) -> None:
    """The checks ``genzoo sample`` makes, before anything is published: a model checkpoint must load
    (valid header, metadata naming valid packages, weights that fit and are finite)."""
    if not path.is_file():
        return  # _stage explains what is missing
    if _kind_of(path) != "model":
        return
    from genzoo.checkpoint import load_model

    meta = read_metadata(path)
    for key in ("model", "plugin", "dataset", "plugin_distribution", "plugin_version"):
        value = meta.get(key, "")
        if not isinstance(value, str) or printable(value, 100) != value:
            raise CheckpointError(f"{path}: metadata field {key!r} holds control characters or is too long; not publishing it")
    if not is_distribution_name(meta["plugin_distribution"] or meta["plugin"]) or (
        meta["plugin_version"] and not is_version(meta["plugin_version"])
    ):
        raise CheckpointError(f"{path}: metadata names no valid package and version; not publishing it")
    load_model(path)


def _kind_of(path: Path) -> str:
    _, meta = read_header(path)
    for kind, format_tag in KIND_FORMATS.items():
        if meta.get("format") == format_tag:
            return kind
    raise CheckpointError(f"{path} is a safetensors file but not a genzoo checkpoint (format {meta.get('format')!r})")


def _train_classifier_command(meta: dict[str, str]) -> str:
    """The ``genzoo train-classifier`` command its provenance metadata describes ('' if incomplete)."""
    flags = {"dataset": "--dataset", "split": "--split", "eval_dataset": "--eval-dataset",
             "eval_split": "--eval-split", "epochs": "--epochs", "seed": "--seed"}
    if not all(key in meta for key in flags):
        return ""
    args = ["genzoo", "train-classifier"]
    for key, flag in flags.items():
        args += [flag, meta[key]]
    if meta["eval_dataset"] != meta["dataset"]:
        args += ["--eval-data-dir", "DIR"]
    return shlex.join(args).replace("'DIR'", "DIR")


def _feature_net_card(meta: dict[str, str], name: str, file_name: str) -> str:
    rows = "\n".join(f"| {key} | {value} |" for key, value in sorted(meta.items()))
    command = _train_classifier_command(meta)
    if command:
        where = " (DIR: the folder of that data set's files)" if "--eval-data-dir" in command else ""
        rows += f"\n\n## Reproduce\n\n```bash\n{command} --out {file_name}\n```\n{where.strip()}\n"
    return (
        f"---\nlicense: {DEFAULT_LICENSE}\nlibrary_name: genzoo\ntags: [genzoo, feature-network]\n---\n"
        f"# {name.split('@')[0]}\n\nA genzoo feature network (the classifier FID and KID embed images with), "
        f"stored as safetensors.\n\n## How to use\n\n```bash\ngenzoo pull {name}   # prints the path of {file_name}\n"
        "genzoo eval CKPT --metrics fid,kid --set fid.classifier=FILE --set kid.classifier=FILE\n```\n\n"
        f"## Provenance (file metadata)\n\n| field | value |\n|---|---|\n{rows}\n"
    )


def _stage(source: Path, staging: Path, ref: str, license_id: str | None) -> Path:
    """Fill ``staging`` with the files to publish; returns the checkpoint's path in it."""
    if source.is_file():
        kind = _kind_of(source)
        if kind == "model":
            export_run(source, staging, name=ref, license_id=license_id or DEFAULT_LICENSE)
            return staging / MODEL_FILENAME
        staging.mkdir()
        shutil.copyfile(source, staging / source.name)
        (staging / CARD_FILENAME).write_text(_feature_net_card(read_header(source)[1], ref, source.name))
        return staging / source.name
    if not (source / MODEL_FILENAME).is_file():
        raise CheckpointError(f"{source} holds no {MODEL_FILENAME}: push a finished run, a model folder or a .safetensors file")
    config_path = source / CONFIG_FILENAME
    is_run = not config_path.is_file() or "train" in read_json(config_path, "the run's or model folder's config")
    if is_run:
        export_run(source, staging, name=ref, license_id=license_id or DEFAULT_LICENSE)
    else:  # an exported model folder: publish its files as they are
        staging.mkdir()
        for item in sorted(source.iterdir()):
            if item.is_file() and not item.name.startswith("."):
                shutil.copyfile(item, staging / item.name)
        refresh_card(staging, ref, license_id=license_id)
    return staging / MODEL_FILENAME


def _entry(folder: Path, checkpoint: Path, name: str, version: str) -> IndexEntry:
    kind = _kind_of(checkpoint)
    files = {
        item.name: FileRecord(sha256_file(item), item.stat().st_size)
        for item in sorted(folder.iterdir()) if item.is_file() and item != checkpoint
    }
    fields = {}
    if kind == "model":
        meta = read_metadata(checkpoint)
        fields = {"model": meta["model"], "plugin": meta["plugin"], "plugin_version": meta.get("plugin_version", ""),
                  "dataset": meta["dataset"], "step": int(meta["step"])}
    else:
        fields = {"model": "feature-net", "dataset": read_header(checkpoint)[1].get("dataset", "")}
    evaluation = read_eval(folder) if kind == "model" else None
    return IndexEntry(
        name=name, version=version, kind=kind, path=f"{name}/{version}/{checkpoint.name}",
        sha256=sha256_file(checkpoint), size=checkpoint.stat().st_size, files=files,
        metrics=metrics_of(evaluation), created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **fields,
    )


def push(
    source: str | Path, registry: str | Path, name: str, tag: str | None = None, license_id: str | None = None
) -> IndexEntry:
    """Publish ``source`` (a run folder, model folder or checkpoint file) as ``name@tag`` (default: next vN)."""
    location = open_location(registry)
    if not isinstance(location, FolderLocation):
        raise RegistryError(f"{location} is read-only over HTTP; push to the folder it serves (a local or shared path)")
    check_name(name)
    if tag is not None:
        check_name(tag, "version tag")
    source = Path(source)
    if not source.exists():
        raise CheckpointError(f"{source} does not exist")
    check_publishable(source if source.is_file() else source / MODEL_FILENAME)
    root = location.root
    created = _make_dirs(root)
    try:
        return _publish(location, root, source, name, tag, license_id)
    except BaseException:
        _remove_empty(created)  # a registry folder this failed push created
        raise


def _publish(location: FolderLocation, root: Path, source: Path, name: str, tag: str | None,
             license_id: str | None) -> IndexEntry:
    with index_lock(root):
        index = location.read_index()
        if tag is not None and any(e.version == tag for e in index.versions(name)):
            raise RegistryError(
                f"{name}@{tag} already exists in {location}; published versions are never overwritten: "
                "choose another --tag, or leave it out to publish the next vN"
            )
        version = tag or index.next_version(name)
        final = root / name / version
        if final.exists():
            raise RegistryError(f"{final} exists but is not in the index (left by a crashed push?); remove it or choose another --tag")
        (root / name).mkdir(exist_ok=True)
        staging = root / name / f".{version}.partial-{uuid.uuid4().hex[:8]}"
        published = False
        try:
            checkpoint = _stage(source, staging, f"{name}@{version}", license_id)
            staging.rename(final)
            published = True
            entry = _entry(final, final / checkpoint.name, name, version)
            index.entries.append(entry)
            atomic_write(root / INDEX_FILENAME, lambda tmp: tmp.write_text(index.to_json()))
        except BaseException as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if published:
                shutil.rmtree(final, ignore_errors=True)
            try:
                (root / name).rmdir()
            except OSError:
                pass
            if isinstance(exc, (OSError, OutputError)):  # a full or read-only registry: name what was not published
                reason = describe_write_failure(exc) if isinstance(exc, OSError) else str(exc)
                raise OutputError(f"could not publish {name}@{version} into {root}: {reason}; nothing was published") from None
            raise
    return entry
