"""A tiny two-player model and a tiny data set, registered like any plugin, for core tests."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from genzoo.config import doc
from genzoo.data import TensorImageDataset
from genzoo.model import GenerativeModel, Player


@dataclass
class TinyGANConfig:
    latent_dim: int = doc("Latent size.", 4)
    hidden: int = doc("Hidden units.", 16)
    critic_steps: int = doc("Critic steps per iteration.", 2)
    nan_after: int = doc("Return a NaN generator loss after this many generator steps (-1: never).", -1)
    lr: float = doc("Adam learning rate of both players.", 1e-3)


class TinyGAN(GenerativeModel):
    """An MLP GAN with a BatchNorm generator (so buffers travel through checkpoints)."""

    def __init__(self, config: TinyGANConfig, data_shape) -> None:
        super().__init__(config, data_shape)
        size = 1
        for d in self.data_shape:
            size *= d
        self.generator = nn.Sequential(
            nn.Linear(config.latent_dim, config.hidden), nn.BatchNorm1d(config.hidden), nn.ReLU(),
            nn.Linear(config.hidden, size), nn.Tanh(),
        )
        self.critic = nn.Sequential(nn.Flatten(), nn.Linear(size, config.hidden), nn.LeakyReLU(0.2), nn.Linear(config.hidden, 1))
        self.generator_steps = 0

    def players(self):
        return [
            Player("critic", ("critic",), lr=self.config.lr, betas=(0.5, 0.9), steps=self.config.critic_steps),
            Player("generator", ("generator",), lr=self.config.lr, betas=(0.5, 0.9)),
        ]

    def generate(self, noise):
        return self.generator(noise).view(len(noise), *self.data_shape)

    def loss(self, player, batch):
        noise = torch.randn(len(batch), self.config.latent_dim, device=batch.device)
        if player == "critic":
            fake = self.generate(noise).detach()
            distance = self.critic(batch).mean() - self.critic(fake).mean()
            return {"loss": -distance, "distance": distance}
        self.generator_steps += 1
        loss = -self.critic(self.generate(noise)).mean()
        if 0 <= self.config.nan_after < self.generator_steps:
            loss = loss * float("nan")
        return {"loss": loss}


@dataclass
class BlobsConfig:
    size: int = doc("Number of images.", 96)
    side: int = doc("Image side in pixels.", 8)


def blobs(config: BlobsConfig, split: str, data_dir) -> TensorImageDataset:
    """Deterministic random images in [-1, 1]; the test split uses another seed."""
    generator = torch.Generator().manual_seed(0 if split == "train" else 1)
    images = torch.rand(config.size, 1, config.side, config.side, generator=generator) * 2 - 1
    labels = torch.arange(config.size) % 3
    return TensorImageDataset(images, labels, name="tiny-blobs", normalisation={"range": [-1, 1]})
