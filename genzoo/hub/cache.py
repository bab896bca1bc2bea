"""Pulling checkpoints into the local cache, verified before anything is kept.

Layout: ``$GENZOO_CACHE_DIR/hub/<registry key>/<name>/<version>/`` (default cache dir
``~/.cache/genzoo``), holding the checkpoint and its card files exactly as published. A pull
downloads every file of an entry into a staging folder, checks each one's size and SHA-256
against the index and that the checkpoint is a safetensors file of the promised kind (its header
is parsed as JSON; nothing in it is executed, and pickles are refused), and only then renames the
staging folder into place. Any failure removes the staging folder and any folder the pull created,
so the cache holds nothing from a failed pull.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import time
import uuid
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, abandoned partial downloads are kept
    fcntl = None  # type: ignore[assignment]

from genzoo.checkpoint import read_header, read_metadata
from genzoo.errors import CheckpointError, UnknownNameError
from genzoo.hub.index import KIND_FORMATS, IndexEntry, RegistryError, RegistryIndex, parse_reference
from genzoo.hub.locations import ENV_REGISTRY, FolderLocation, Location, default_registry, open_location

ENV_CACHE = "GENZOO_CACHE_DIR"


def cache_root() -> Path:
    """``$GENZOO_CACHE_DIR/hub`` (default ``~/.cache/genzoo/hub``)."""
    return Path(os.environ.get(ENV_CACHE) or "~/.cache/genzoo").expanduser() / "hub"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_checkpoint(path: Path, entry: IndexEntry, shown_as: str) -> None:
    """The file is safetensors, of the entry's kind, and (for models) the model the index names."""
    try:
        if entry.kind == "model":
            meta = read_metadata(path)
            if entry.model and meta["model"] != entry.model:
                raise CheckpointError(f"holds model {meta['model']!r}, but the index says {entry.model!r}")
        else:
            _, meta = read_header(path)
            if meta.get("format") != KIND_FORMATS[entry.kind]:
                raise CheckpointError(f"has format {meta.get('format')!r}, expected {KIND_FORMATS[entry.kind]}")
    except CheckpointError as exc:
        reason = str(exc).replace(str(path), "").strip()
        raise RegistryError(f"{shown_as} ({entry.ref}) {reason}; nothing was saved") from None


def verify_folder(folder: Path, entry: IndexEntry) -> str | None:
    """Why ``folder`` does not hold exactly the entry's files, or ``None`` when it does."""
    for relative, record in entry.all_files().items():
        path = folder / relative
        if not path.is_file():
            return f"{relative} is missing"
        if path.stat().st_size != record.size:
            return f"{relative} has {path.stat().st_size} bytes, the index says {record.size}"
        if sha256_file(path) != record.sha256:
            return f"{relative} does not match its sha256 in the index"
    return None


def verify_in_place(location: FolderLocation, entry: IndexEntry) -> Path:
    """Check a local registry's copy of an entry and return the checkpoint's path (no copying)."""
    for relative, record in entry.all_files().items():
        path = location.local_path(entry.file_path(relative))
        if not path.is_file():
            raise RegistryError(f"{location}/{entry.file_path(relative)} ({entry.ref}) is missing from the registry")
        size = path.stat().st_size
        if size != record.size:
            raise RegistryError(
                f"{path} ({entry.ref}) has {size} bytes but the index says {record.size}; it is truncated or was changed"
            )
        if sha256_file(path) != record.sha256:
            raise RegistryError(f"{path} ({entry.ref}) does not match its sha256 in the index; it was changed or corrupted")
    path = location.local_path(entry.path)
    check_checkpoint(path, entry, str(path))
    return path


def _make_dirs(path: Path) -> list[Path]:
    """``mkdir -p`` that returns the folders it created, outermost first."""
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        folder.mkdir()
    return list(reversed(missing))


def _remove_empty(folders: list[Path]) -> None:
    for folder in reversed(folders):
        try:
            folder.rmdir()
        except OSError:
            pass


def pull_entry(location: Location, entry: IndexEntry, cache: Path | None = None) -> Path:
    """Download ``entry`` into the cache (or reuse a verified copy); returns the checkpoint's path."""
    base = (cache or cache_root()) / location.key()
    final = base / entry.name / entry.version
    main = final / Path(entry.path).name
    if final.is_dir() and verify_folder(final, entry) is None:
        check_checkpoint(main, entry, str(main))
        return main
    created = _make_dirs(final.parent)
    removed = _remove_abandoned_partials(final.parent)
    if removed:
        print(f"genzoo: removed {removed} partial download(s) left in {final.parent} by a pull that died",
              file=sys.stderr)
    staging = final.parent / f".partial-{entry.version}-{uuid.uuid4().hex[:8]}"
    held = None
    try:
        staging.mkdir()
        held = _hold(staging)
        for relative, record in entry.all_files().items():
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            sha = location.copy_to(entry.file_path(relative), target, record.size)
            if sha != record.sha256:
                raise RegistryError(
                    f"{location}/{entry.file_path(relative)} ({entry.ref}) does not match its sha256 in the index "
                    f"(got {sha[:12]}..., expected {record.sha256[:12]}...); nothing was saved"
                )
        check_checkpoint(staging / Path(entry.path).name, entry, f"{location}/{entry.path}")
        _move_into_place(staging, final, entry)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        _remove_empty(created)
        raise
    finally:
        if held is not None:
            os.close(held)
    return main


PARTIAL_GRACE_S = 60  # a partial folder younger than this may belong to a pull that has not locked it yet


def _hold(folder: Path) -> int | None:
    """An advisory lock on ``folder`` while this pull fills it (released when the process dies,
    SIGKILL included); ``None`` where the file system has no locks."""
    if fcntl is None:
        return None
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        pass
    return fd


def _remove_abandoned_partials(parent: Path) -> int:
    """Remove the partial folders under ``parent`` that no live pull holds; returns how many.

    The lock is an ``flock``: on a cache shared over NFS mounted with host-local locks
    (``local_lock=flock``), a pull on another host cannot see it, so keep such caches per host
    (``GENZOO_CACHE_DIR``)."""
    removed = 0
    if fcntl is None:
        return removed
    for folder in parent.glob(".partial-*"):
        try:
            if folder.is_symlink() or not folder.is_dir() or time.time() - folder.stat().st_mtime < PARTIAL_GRACE_S:
                continue
            fd = os.open(folder, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # a live pull holds it
        finally:
            os.close(fd)
        shutil.rmtree(folder, ignore_errors=True)
        removed += not folder.exists()
    return removed


def _move_into_place(staging: Path, final: Path, entry: IndexEntry) -> None:
    """Rename the verified ``staging`` folder to ``final``; a concurrent pull's good copy is kept."""
    if final.exists():
        if verify_folder(final, entry) is None:  # another process finished the same pull first
            shutil.rmtree(staging)
            return
        damaged = final.with_name(f".damaged-{final.name}-{uuid.uuid4().hex[:8]}")
        final.rename(damaged)  # a damaged earlier copy: set it aside, then drop it
        shutil.rmtree(damaged, ignore_errors=True)
    try:
        staging.rename(final)
    except OSError:
        if not (final.exists() and verify_folder(final, entry) is None):
            raise
        shutil.rmtree(staging)


def pull(reference: str, registry: str | Path | None = None, cache: Path | None = None) -> tuple[Path, IndexEntry]:
    """Pull ``NAME[@version]`` from a registry into the cache; returns ``(checkpoint path, entry)``."""
    name, version = parse_reference(reference)
    location = open_location(registry)
    entry = read_registry_index(location, registry is None).find(name, version)
    return pull_entry(location, entry, cache), entry


def read_registry_index(location: Location, is_default: bool) -> RegistryIndex:
    """The registry's index; a missing default registry is explained, not reported as empty."""
    if is_default and isinstance(location, FolderLocation) and not location.exists():
        if os.environ.get(ENV_REGISTRY, "").strip():
            raise RegistryError(f"${ENV_REGISTRY} names {location}, which does not exist; correct it or unset it")
        raise RegistryError(
            f"the default registry {location} is absent (genzoo ships it as the package genzoo_registry; "
            f"reinstall genzoo), or set ${ENV_REGISTRY} to a registry folder or URL, or pass --registry LOCATION"
        )
    return location.read_index()


def resolve_name(reference: str) -> Path:
    """The checkpoint file for a registry name ``NAME[@version]`` in the default registry.

    A local registry's file is verified (size, SHA-256, safetensors) and used in place; a remote
    one is pulled into the cache first. Called by ``genzoo sample``, ``info`` and ``eval`` for
    references that are not existing paths.
    """
    if "/" in reference or "\\" in reference or reference.endswith(".safetensors"):
        raise CheckpointError(f"checkpoint {reference} does not exist")
    try:
        name, version = parse_reference(reference)
    except RegistryError:
        raise CheckpointError(f"checkpoint {reference} does not exist and is not a registry name") from None
    location = open_location(default_registry())
    try:
        entry = read_registry_index(location, True).find(name, version)
    except UnknownNameError as exc:
        raise UnknownNameError(f"{reference} is no file or folder, and {exc}") from None
    if isinstance(location, FolderLocation):
        return verify_in_place(location, entry)
    return pull_entry(location, entry)
