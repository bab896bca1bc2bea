"""Random data for the contract checks."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor


def random_batch(data_shape: Sequence[int], batch_size: int = 4, seed: int = 0) -> Tensor:
    """A batch of data-like values in [-1, 1] of shape ``(batch_size, *data_shape)``."""
    generator = torch.Generator().manual_seed(seed)
    return torch.rand((batch_size, *data_shape), generator=generator) * 2 - 1
