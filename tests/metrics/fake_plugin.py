"""A test plugin with two tiny 28x28 models: one with an encoder (a VAE), one without (a generator)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

import genzoo
from genzoo.config import doc
from genzoo.model import GenerativeModel, Player
from genzoo.specs import ModelSpec


@dataclass
class TinyConfig:
    latent_dim: int = doc("Latent size.", 4)


class TinyGenerator28(GenerativeModel):
    """An MLP generator of (1, 28, 28) images; no encoder."""

    def __init__(self, config: TinyConfig, data_shape) -> None:
        super().__init__(config, data_shape)
        self.decoder = nn.Sequential(nn.Linear(config.latent_dim, 32), nn.ReLU(), nn.Linear(32, 784))

    def players(self) -> list[Player]:
        return [Player("decoder", ("decoder",))]

    def logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z).view(len(z), *self.data_shape)

    def generate(self, noise: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.logits(noise))

    def loss(self, player: str, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"loss": (self.generate(torch.randn(len(batch), self.config.latent_dim)) - batch).pow(2).mean()}


class TinyVAE28(TinyGenerator28):
    """Adds a Gaussian encoder and a Bernoulli decoder on (x+1)/2."""

    capabilities = frozenset({"encoder"})
    observation_model = "Bernoulli on (x+1)/2"

    def __init__(self, config: TinyConfig, data_shape) -> None:
        super().__init__(config, data_shape)
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(784, 2 * config.latent_dim))

    def players(self) -> list[Player]:
        return [Player("vae", ("encoder", "decoder"))]

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar.clamp(-6, 2)

    def decoder_log_prob(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        target = ((x + 1) / 2).clamp(0, 1)
        return -F.binary_cross_entropy_with_logits(self.logits(z), target, reduction="none").flatten(1).sum(1)


@genzoo.hookimpl
def genzoo_models():
    return [
        ModelSpec(
            "tiny-vae28",
            "tests.metrics.fake_plugin:TinyVAE28",
            "tiny 28x28 VAE for metric tests",
            config="tests.metrics.fake_plugin:TinyConfig",
            default_steps=3,
            presets={"paper": {"latent_dim": 2}, "ablation-wide": {"latent_dim": 6}},
        ),
        ModelSpec(
            "tiny-gen28",
            "tests.metrics.fake_plugin:TinyGenerator28",
            "tiny 28x28 generator for metric tests",
            config="tests.metrics.fake_plugin:TinyConfig",
        ),
    ]
