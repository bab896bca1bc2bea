"""genzoo: a plugin-based zoo of generative image models on PyTorch.

Importing ``genzoo`` is cheap (no torch); the heavy parts load on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from genzoo.errors import GenzooError
from genzoo.hookspecs import hookimpl
from genzoo.specs import DatasetSpec, LossSpec, MetricSpec, ModelSpec

__version__ = "0.1.0"

# Public names that need torch, resolved lazily: name -> "module:attr".
_LAZY = {
    "GenerativeModel": "genzoo.model:GenerativeModel",
    "Player": "genzoo.model:Player",
    "ImageDataset": "genzoo.data:ImageDataset",
    "TensorImageDataset": "genzoo.data:TensorImageDataset",
    "get_registry": "genzoo.registry:get_registry",
}


def __dir__() -> list[str]:
    # dir() and help() list the lazily loaded names too, not only what is imported already.
    return sorted(set(globals()) | set(_LAZY))


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'genzoo' has no attribute {name!r}")
    module_name, _, attr = target.partition(":")
    return getattr(import_module(module_name), attr)


__all__ = [
    "DatasetSpec",
    "GenzooError",
    "LossSpec",
    "MetricSpec",
    "ModelSpec",
    "__version__",
    "hookimpl",
    *_LAZY,
]
