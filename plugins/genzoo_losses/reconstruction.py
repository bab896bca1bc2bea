"""Reconstruction losses / observation models: ``l1``, ``gaussian`` and ``bernoulli``.

Interface (one for the whole role)::

    value = loss(pre_tanh, x)            # scalar to minimise: mean over the batch
    per = loss.per_sample(pre_tanh, x)   # (B,) the same term per sample
    lp = loss.log_prob(pre_tanh, x)      # (B,) log p(x | z), summed over every pixel/voxel

``pre_tanh`` is the decoder's activation *before* its final tanh (genzoo generators expose it as
``generator.pre_tanh(z)``), so the decoder mean is m = tanh(pre_tanh) in [-1, 1] and the
Bernoulli logits 2*pre_tanh are available without inverting a saturated tanh. ``x`` is the data in
[-1, 1]. With ``reduction="sum"`` a term is summed over the pixels of each sample and averaged over
the batch (a proper per-sample log-likelihood, as an ELBO needs); with ``"mean"`` it is averaged
over all elements (the "L1 mean" of Kwon's and Rosca's code). ``log_prob`` always sums and keeps
every normalising constant, so it can enter an importance-weighted bound.

* l1:        per element |x - m|;  log_prob: Laplace(x; m, b) = -|x - m|/b - log(2b)
* gaussian:  per element (x - m)^2 / (2 sigma^2) + log sigma + log(2 pi)/2   (= -log N(x; m, sigma^2))
* bernoulli: y = (x + 1)/2 in [0, 1] and p = (m + 1)/2 = sigmoid(2*pre_tanh); per element
  -[y log p + (1 - y) log(1 - p)] (binary cross-entropy with logits 2*pre_tanh). On continuous y this
  is the usual cross-entropy surrogate; binarise x first for a normalised likelihood
  (REFERENCE.md sec. 4.1).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from genzoo.errors import GenzooError
from genzoo_losses.configs import BernoulliConfig, GaussianConfig, L1Config


class ReconstructionLoss(ABC):
    """Base class: subclasses define :meth:`elementwise_nll` and :meth:`elementwise_log_prob`."""

    role = "reconstruction"
    name = "reconstruction"

    def __init__(self, config: L1Config | GaussianConfig | BernoulliConfig) -> None:
        self.config = config
        if config.reduction not in ("sum", "mean"):
            raise GenzooError(f"{self.name}: reduction must be 'sum' or 'mean', got {config.reduction!r}")

    @staticmethod
    def _check(pre_tanh: Tensor, x: Tensor) -> None:
        if pre_tanh.shape != x.shape:
            raise GenzooError(f"decoder output {tuple(pre_tanh.shape)} and data {tuple(x.shape)} differ in shape")

    @abstractmethod
    def elementwise_nll(self, pre_tanh: Tensor, x: Tensor) -> Tensor:
        """Implemented by each concrete loss."""

    def elementwise_log_prob(self, pre_tanh: Tensor, x: Tensor) -> Tensor:
        return -self.elementwise_nll(pre_tanh, x)

    def per_sample(self, pre_tanh: Tensor, x: Tensor) -> Tensor:
        """The loss of each sample, shape (B,): summed or averaged over elements per ``reduction``."""
        self._check(pre_tanh, x)
        values = self.elementwise_nll(pre_tanh.float(), x.float()).flatten(1)
        return values.sum(dim=1) if self.config.reduction == "sum" else values.mean(dim=1)

    def __call__(self, pre_tanh: Tensor, x: Tensor) -> Tensor:
        return self.per_sample(pre_tanh, x).mean()

    def log_prob(self, pre_tanh: Tensor, x: Tensor) -> Tensor:
        """log p(x|z) of each sample, shape (B,), summed over all elements with its constants."""
        self._check(pre_tanh, x)
        return self.elementwise_log_prob(pre_tanh.float(), x.float()).flatten(1).sum(dim=1)


class L1(ReconstructionLoss):
    """|x - tanh(pre_tanh)|; as a likelihood, Laplace with scale ``config.scale``."""

    name = "l1"

    def __init__(self, config: L1Config | None = None) -> None:
        super().__init__(config if config is not None else L1Config())
        if self.config.scale <= 0:
            raise GenzooError(f"l1: scale must be > 0, got {self.config.scale}")

    def elementwise_nll(self, pre_tanh: Tensor, x: Tensor) -> Tensor:
        return (x - torch.tanh(pre_tanh)).abs()

    def elementwise_log_prob(self, pre_tanh: Tensor, x: Tensor) -> Tensor:
        b = self.config.scale
        return -(x - torch.tanh(pre_tanh)).abs() / b - math.log(2.0 * b)


class Gaussian(ReconstructionLoss):
    """-log N(x; tanh(pre_tanh), sigma^2 I) with a fixed sigma."""

    name = "gaussian"

    def __init__(self, config: GaussianConfig | None = None) -> None:
        super().__init__(config if config is not None else GaussianConfig())
        if self.config.sigma <= 0:
            raise GenzooError(f"gaussian: sigma must be > 0, got {self.config.sigma}")

    def elementwise_nll(self, pre_tanh: Tensor, x: Tensor) -> Tensor:
        sigma = self.config.sigma
        return (x - torch.tanh(pre_tanh)).pow(2) / (2.0 * sigma**2) + math.log(sigma) + 0.5 * math.log(2 * math.pi)


class Bernoulli(ReconstructionLoss):
    """Binary cross-entropy of y = (x+1)/2 under p = sigmoid(2*pre_tanh) = (tanh(pre_tanh)+1)/2."""

    name = "bernoulli"

    def __init__(self, config: BernoulliConfig | None = None) -> None:
        super().__init__(config if config is not None else BernoulliConfig())

    def elementwise_nll(self, pre_tanh: Tensor, x: Tensor) -> Tensor:
        target = ((x + 1.0) * 0.5).clamp(0.0, 1.0)
        return F.binary_cross_entropy_with_logits(2.0 * pre_tanh, target, reduction="none")
