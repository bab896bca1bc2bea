"""Metric ``pixel-histogram``: how far the generated pixel-value distribution is from the real one.

    d = 1/2 * sum_k |h_real(k) - h_gen(k)|       (total variation distance, in [0, 1])

over ``bins`` equal bins of [-1, 1], with h the share of pixels in each bin. The headline value is
the key named after the metric; ``pixel-histogram.real`` is the same distance between two real
samples (the data set's training images against the held-out ones), the floor to read it against.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from genzoo.config import doc


@dataclass
class PixelHistogramConfig:
    bins: int = doc("equal-width bins over [-1, 1]", 32)

    def __post_init__(self) -> None:
        if self.bins < 2:
            raise ValueError(f"bins must be at least 2, got {self.bins}")


def histogram(images: Tensor, bins: int) -> Tensor:
    counts = torch.histc(images.float().clamp(-1, 1), bins=bins, min=-1, max=1)
    return counts / counts.sum()


class PixelHistogram:
    def __init__(self, config: PixelHistogramConfig) -> None:
        self.config = config

    def distance(self, a: Tensor, b: Tensor) -> float:
        return float(0.5 * (histogram(a, self.config.bins) - histogram(b, self.config.bins)).abs().sum())

    def compute(self, context: Any) -> dict[str, float]:
        result = {"pixel-histogram": self.distance(context.real, context.generated)}
        if context.reference is not None:
            result["pixel-histogram.real"] = self.distance(context.real, context.reference)
        return result
