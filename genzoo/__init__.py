"""genzoo: a plugin-based zoo of generative image models on PyTorch.

Importing ``genzoo`` is cheap (no torch); the heavy parts load on first use. From Python::

    model = genzoo.load("gvae-mnist5k")        # registry name, run folder or .safetensors file
    images = genzoo.sample(model, 16)          # also genzoo.encode / genzoo.reconstruct
    result = genzoo.train("vae", steps=500)    # or genzoo.train("vae", my_images_tensor, ...)
    result.model, result.run_dir
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
    "load": "genzoo.api:load",
    "sample": "genzoo.api:sample",
    "encode": "genzoo.api:encode",
    "reconstruct": "genzoo.api:reconstruct",
    "train": "genzoo.api:train",
    "TrainResult": "genzoo.api:TrainResult",
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
