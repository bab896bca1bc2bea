"""Tiny models whose exact answers are known, for the metrics tests."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from genzoo.model import GenerativeModel, Player


@dataclass
class LinearGaussianConfig:
    latent_dim: int = 2
    noise_std: float = 0.5
    mean_shift: float = 0.0  # encoder error: added to the exact posterior mean
    var_scale: float = 1.0  # encoder error: multiplies the exact posterior variance


class LinearGaussianVAE(GenerativeModel):
    """z ~ N(0, I_2), x = W z + b + s ε on 4 pixels (data shape (1, 2, 2)).

    W has orthogonal columns, so the exact posterior is diagonal:
    Σ = (I + WᵀW/s²)⁻¹, μ = Σ Wᵀ (x - b) / s², and log p(x) = log N(x; b, W Wᵀ + s² I).
    """

    capabilities = frozenset({"encoder"})

    def __init__(self, config: LinearGaussianConfig, data_shape=(1, 2, 2)) -> None:
        super().__init__(config, data_shape)
        self.weight = torch.nn.Parameter(torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 2.0], [0.0, -2.0]]).double())
        self.bias = torch.nn.Parameter(torch.tensor([0.1, -0.2, 0.3, 0.0]).double())

    def players(self) -> list[Player]:
        return [Player("vae", ("weight",))]  # not trained in tests

    def generate(self, noise: Tensor) -> Tensor:
        return (noise.double() @ self.weight.T + self.bias).view(len(noise), *self.data_shape)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        s2 = self.config.noise_std**2
        w = self.weight
        precision = torch.eye(2, dtype=w.dtype) + w.T @ w / s2
        cov = torch.linalg.inv(precision)
        mu = (x.flatten(1).double() - self.bias) @ w @ cov.T / s2 + self.config.mean_shift
        var = cov.diagonal().expand_as(mu) * self.config.var_scale
        return mu, var.log()

    def decoder_log_prob(self, x: Tensor, z: Tensor) -> Tensor:
        s = self.config.noise_std
        mean = self.generate(z).flatten(1)
        return (-0.5 * ((x.flatten(1).double() - mean) / s) ** 2 - math.log(s) - 0.5 * math.log(2 * math.pi)).sum(1)

    @torch.no_grad()
    def exact_log_prob(self, x: Tensor) -> Tensor:
        cov = self.weight @ self.weight.T + self.config.noise_std**2 * torch.eye(4, dtype=torch.float64)
        dist = torch.distributions.MultivariateNormal(self.bias.detach(), covariance_matrix=cov.detach())
        return dist.log_prob(x.flatten(1).double())
