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
    """The moving average of ``model``'s state dict, kept beside the live weights (same device).

    The live tensors are looked up once, so each update is one fused lerp with no state-dict
    traversal: ``load_state_dict`` and ``Module.compile`` keep them in place; build the average after
    the model has moved to its device and memory format.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"the weight average's decay must be in (0, 1), got {decay}")
        self.model, self.decay = model, decay
        live = {name: t.detach() for name, t in model.state_dict().items()}
        self.tensors = {name: t.clone() for name, t in live.items()}
        floats = [name for name, t in live.items() if t.is_floating_point()]
        self._floats = ([self.tensors[n] for n in floats], [live[n] for n in floats])
        self._counters = [(self.tensors[n], t) for n, t in live.items() if not t.is_floating_point()]
        # The average's floating-point buffers (batch-norm statistics), to average them over ranks.
        buffers = {name for name, b in model.named_buffers() if b.is_floating_point()}
        self.float_buffers = [t for name, t in self.tensors.items() if name in buffers]

    @torch.no_grad()
    def update(self, step: int) -> None:
        """Fold in the weights after iteration ``step`` (one fused call for the float tensors)."""
        torch._foreach_lerp_(*self._floats, 1.0 - decay_at(step, self.decay))
        for average, live in self._counters:
            average.copy_(live)

    @torch.no_grad()
    def load(self, tensors: dict[str, Tensor]) -> None:
        """Replace the average by saved tensors (names and shapes as the model's; a name the file lacks,
        which only the model's ``optional_state`` may, keeps its value)."""
        for name, t in self.tensors.items():
            if name in tensors:
                t.copy_(tensors[name])

    @contextmanager
    def applied(self) -> Iterator[None]:
        """Inside the block the model holds the averaged weights; the live ones come back after."""
        live = {name: t.detach().clone() for name, t in self.model.state_dict().items()}
        self.model.load_state_dict(self.tensors)
        try:
            yield
        finally:
            self.model.load_state_dict(live)
