"""Public entry points for sharing checkpoints; the implementation lives in :mod:`genzoo.hub`.

:func:`resolve_checkpoint_path` calls :func:`resolve_name` for references that are not existing
paths, which is how ``genzoo sample NAME[@version]``, ``genzoo info NAME`` and
``genzoo eval NAME`` find published checkpoints.
"""

from __future__ import annotations

from pathlib import Path

from genzoo.checkpoint import MODEL_FILENAME
from genzoo.errors import CheckpointError
from genzoo.hub import (
    IndexEntry,
    RegistryError,
    RegistryIndex,
    cache_root,
    default_registry,
    export_run,
    list_entries,
    pull,
    push,
    resolve_name,
)


def resolve_checkpoint_path(reference: str) -> Path:
    """A checkpoint file, a run or model folder holding ``model.safetensors``, or a registry name."""
    path = Path(reference).expanduser()
    if path.is_dir() and (path / MODEL_FILENAME).is_file():
        return path / MODEL_FILENAME
    if path.is_file():
        return path
    if path.is_dir():
        raise CheckpointError(f"{path} holds no {MODEL_FILENAME}; is the run finished? (see its checkpoints/ folder)")
    return resolve_name(reference)


__all__ = [
    "IndexEntry",
    "RegistryError",
    "RegistryIndex",
    "cache_root",
    "default_registry",
    "export_run",
    "list_entries",
    "pull",
    "push",
    "resolve_checkpoint_path",
    "resolve_name",
]
