"""Sizes checked before anything is allocated: a model's parameters, a batch of samples.

A config asking for ``latent_dim=10^9`` would otherwise try to allocate terabytes and die (or
swap the machine to a halt) long after the command started. The model is first built on PyTorch's
``meta`` device, which records shapes and allocates nothing, and its parameter bytes are compared
with the memory of the device it will run on.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from genzoo.errors import ConfigError, GenzooError

MAX_SAMPLES = 100_000
MAX_SEED = 2**63 - 1  # torch's generators take 64-bit seeds; a run adds small offsets per rank and step


def check_seed(seed: int, flag: str = "--seed") -> int:
    """``seed`` if it is a seed PyTorch's generators take, else one ConfigError line."""
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < MAX_SEED:
        raise ConfigError(f"{flag} {seed}: give an integer from 0 to 2^63 - 2")
    return seed
MAX_SAMPLE_BYTES = 2 << 30  # one batch of generated images, as float32


def device_memory(device: Any) -> int | None:
    """Bytes of memory of ``device`` (physical RAM for the CPU), or ``None`` when unknown."""
    import torch

    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_available():
        return int(torch.cuda.get_device_properties(device.index or 0).total_memory)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def meta_model(build: Callable[[], Any]) -> Any | None:
    """``build()`` on the meta device (shapes only), or ``None`` if the factory cannot run there."""
    import torch

    try:
        with torch.device("meta"):
            return build()
    except GenzooError:
        raise
    except Exception:  # e.g. an initialiser that reads values: the real build is the check then
        return None


def check_model_size(build: Callable[[], Any], what: str, device: Any) -> None:
    """Refuse a model whose parameters and buffers alone would not fit in ``device``'s memory."""
    skeleton = meta_model(build)
    memory = device_memory(device)
    if skeleton is None or memory is None:
        return
    needed = sum(t.numel() * t.element_size() for t in skeleton.state_dict().values())
    if needed > memory // 2:
        raise ConfigError(
            f"{what} has {needed / 2**30:.1f} GiB of weights, more than half the {memory / 2**30:.1f} GiB of "
            f"{device}; choose smaller sizes (e.g. latent_dim, widths)"
        )


def check_sample_count(n: int, data_shape: Any, option: str = "-n") -> None:
    """``n`` samples of ``data_shape`` are a sane number and fit in :data:`MAX_SAMPLE_BYTES`."""
    per_image = 4
    for d in data_shape:
        per_image *= int(d)
    limit = max(1, min(MAX_SAMPLES, MAX_SAMPLE_BYTES // per_image))
    if not 1 <= n <= limit:
        raise ConfigError(f"{option} {n}: give 1 to {limit} samples of shape {list(data_shape)} per call")
