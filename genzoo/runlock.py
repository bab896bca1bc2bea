"""One trainer per run folder: training into a folder that another process is training is refused.

Two processes in one folder would interleave their metrics, delete each other's temporary files and
overwrite each other's checkpoints. The trainer holds an advisory lock (``fcntl.flock``) on
``RUN/.genzoo-lock`` while it runs and removes the file when it ends; the operating system drops the
lock when the process ends, however it ends, so a killed run's file blocks nobody (forked children, the
data-loader workers, close their copy at once so as not to hold it after their parent). Where the lock cannot be taken for a reason other
than another holder (no ``fcntl`` on Windows, a file system without locks), training goes on unlocked
and the trainer's own writes report any problem with the folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from genzoo.errors import RunFolderBusy

LOCK_FILENAME = ".genzoo-lock"
_HELD: set[IO[str]] = set()  # this process's held locks


def _drop_in_child() -> None:
    # A forked child (a data-loader worker) shares the lock with its parent; if it outlived a killed trainer it
    # would keep the folder locked. Closing the child's copy leaves the parent's lock in place.
    for handle in list(_HELD):
        try:
            handle.close()
        except OSError:
            pass
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drop_in_child)


class RunFolderLock:
    """``acquire()`` takes the folder's lock or raises :class:`RunFolderBusy`; ``release()`` lets it go."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        try:
            import fcntl
        except ImportError:  # Windows
            return
        path = self.run_dir / LOCK_FILENAME
        for _ in range(10):  # a holder may remove the file between our open and our lock: lock the file there now
            try:
                self.run_dir.mkdir(parents=True, exist_ok=True)
                handle = open(path, "a+", encoding="utf-8", errors="replace")
            except OSError:
                return
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                try:
                    handle.seek(0)
                    holder = handle.read(32).strip()
                except OSError:
                    holder = ""
                handle.close()
                by = f"process {holder}" if holder.isdigit() else "another process"
                raise RunFolderBusy(f"{self.run_dir} is being trained by {by}; wait for it to finish, or train into "
                                    "another folder (--out)") from None
            except OSError:
                handle.close()
                return
            if _is_file_at(handle, path):
                break
            handle.close()
        else:
            return
        try:  # who holds it, for the other process's message; unbuffered, so a full disk fails here or not at all
            os.ftruncate(handle.fileno(), 0)
            os.pwrite(handle.fileno(), str(os.getpid()).encode(), 0)
        except OSError:
            pass
        self._handle = handle
        _HELD.add(handle)

    def release(self) -> None:
        """Remove the lock file (a finished run folder holds no trace of it) and let go of the lock."""
        handle, self._handle = self._handle, None
        if handle is None:
            return
        _HELD.discard(handle)
        if handle.closed:  # closed already (a forked child's copy): nothing of ours to remove
            return
        path = self.run_dir / LOCK_FILENAME
        if _is_file_at(handle, path):  # only our own file: the folder may have been emptied and relocked since
            try:
                path.unlink()
            except OSError:
                pass
        handle.close()  # closing the file drops the lock


def _is_file_at(handle: IO[str], path: Path) -> bool:
    """Whether ``path`` still names the file ``handle`` has open (not one removed and made anew)."""
    try:
        return os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
    except OSError:
        return False
