"""Public entry points for sharing checkpoints; the implementation lives in :mod:`genzoo.hub`.

``genzoo.cli.training.resolve_checkpoint_path`` calls :func:`resolve_name` for references that
are not existing paths, which is how ``genzoo sample NAME[@version]``, ``genzoo info NAME`` and
``genzoo eval NAME`` find published checkpoints.
"""

from __future__ import annotations

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
    "resolve_name",
]
