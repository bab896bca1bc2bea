"""An exponential moving average of a model's weights: what a run samples from and publishes.

After iteration t (1-based) every floating-point tensor w of the model's state dict (parameters and
batch-norm statistics alike) updates its average w̄ as

    w̄ ← d_t · w̄ + (1 − d_t) · w,        d_t = min(decay, (1 + t) / (10 + t))

The ramp (1 + t)/(10 + t) is the ``num_updates`` schedule of TensorFlow's ExponentialMovingAverage:
it keeps the average from remembering the initial weights, and until d_t reaches ``decay`` it
averages over roughly the last ~11 % of the iterations (the mean age of its weight is ≈ t/9), so it
suits short budgets and long ones alike. Averaging a GAN generator's iterates damps the oscillation
of the adversarial game and gives cleaner samples at no training cost (Yazıcı et al. 2019, "The
Unusual Effectiveness of Averaging in GAN Training"; Karras et al.'s progressive GAN and StyleGAN
sample from such an average). Integer tensors (batch-norm step counters) are copied.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import Tensor, nn


def decay_at(step: int, decay: float) -> float:
    """d_t of the module docstring for 1-based iteration ``step``."""
    return min(decay, (1.0 + step) / (10.0 + step))


class WeightAverage:
    """The moving average of ``model``'s state dict, kept beside the live weights (same device)."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"the weight average's decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.tensors = {name: t.detach().clone() for name, t in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """Fold in the weights after iteration ``step`` (one fused call for the float tensors)."""
        live = model.state_dict()
        floats = [name for name, t in self.tensors.items() if t.is_floating_point()]
        weight = 1.0 - decay_at(step, self.decay)
        torch._foreach_lerp_([self.tensors[n] for n in floats], [live[n].detach() for n in floats], weight)
        for name, t in self.tensors.items():
            if not t.is_floating_point():
                t.copy_(live[name])

    def float_buffers(self, model: nn.Module) -> list[Tensor]:
        """The average's floating-point buffers (batch-norm statistics), e.g. to average over ranks."""
        names = {name for name, b in model.named_buffers() if b.is_floating_point()}
        return [t for name, t in self.tensors.items() if name in names]

    @torch.no_grad()
    def load(self, tensors: dict[str, Tensor]) -> None:
        """Replace the average by saved tensors (names and shapes as the model's)."""
        for name, t in self.tensors.items():
            t.copy_(tensors[name])

    @contextmanager
    def applied(self, model: nn.Module) -> Iterator[None]:
        """Inside the block ``model`` holds the averaged weights; the live ones come back after."""
        live = {name: t.detach().clone() for name, t in model.state_dict().items()}
        model.load_state_dict(self.tensors)
        try:
            yield
        finally:
            model.load_state_dict(live)
