"""Sharing checkpoints: model folders and cards, registries (folder or HTTP), a verified cache.

- :func:`export_run` writes a Hugging Face-style model folder from a run (``genzoo export``).
- :func:`push` publishes a new version into a folder registry (``genzoo push``).
- :func:`pull` downloads ``NAME[@version]`` into ``$GENZOO_CACHE_DIR/hub`` after checking its size,
  SHA-256 and safetensors header (``genzoo pull``).
- :func:`resolve_name` turns a registry name into a checkpoint path (``genzoo sample NAME``).
- :func:`list_entries` reads a registry's index (``genzoo registry list``).

Only the standard library, safetensors headers and genzoo's own checkpoint reader are used;
torch is not imported until a model is loaded.
"""

from __future__ import annotations

from pathlib import Path

from genzoo.hub.cache import cache_root, pull, read_registry_index, resolve_name
from genzoo.hub.card import export_run
from genzoo.hub.index import IndexEntry, RegistryError, RegistryIndex
from genzoo.hub.locations import default_registry, open_location
from genzoo.hub.publish import push


def list_entries(registry: str | Path | None = None) -> RegistryIndex:
    """The index of ``registry`` (default: ``$GENZOO_REGISTRY`` or the project's ``registry/``)."""
    return read_registry_index(open_location(registry), registry is None)


__all__ = [
    "IndexEntry",
    "RegistryError",
    "RegistryIndex",
    "cache_root",
    "default_registry",
    "export_run",
    "list_entries",
    "open_location",
    "pull",
    "push",
    "resolve_name",
]
