"""Where prepared data lives, and atomic writes into it.

Every file genzoo caches is written to a temporary name in the same folder, flushed, fsynced and
renamed, so a crash or two concurrent runs never leave a half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

from genzoo.errors import DataError

CACHE_ENV = "GENZOO_CACHE_DIR"


def cache_root() -> Path:
    """``$GENZOO_CACHE_DIR`` or ``~/.cache/genzoo``."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "genzoo"


def ensure_dir(path: Path) -> Path:
    """Create ``path`` (and parents); a read-only location is a one-line :class:`DataError`."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create cache folder {path} ({exc.strerror}); set {CACHE_ENV} to a writable folder") from None
    return path


@contextlib.contextmanager
def atomic_file(path: Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temp file beside ``path``; on success fsync and rename it onto ``path``."""
    ensure_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def save_npy_atomic(path: Path, array: np.ndarray) -> None:
    """Write ``array`` as ``.npy`` at ``path`` atomically."""
    with atomic_file(path) as handle:
        np.save(handle, array, allow_pickle=False)


def save_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON at ``path`` atomically."""
    with atomic_file(path, "w") as handle:
        json.dump(data, handle, indent=1, sort_keys=False)
        handle.write("\n")


def temp_path_for(path: Path) -> Path:
    """A unique temporary name beside ``path`` for writers that need a path (np.lib.format.open_memmap)."""
    ensure_dir(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def commit_temp(tmp: Path, path: Path) -> None:
    """fsync ``tmp`` and rename it onto ``path``."""
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)
