"""A test plugin of components that each break one contract (and a few that keep them), so the
checks in genzoo.testing can be seen to fail."""

from __future__ import annotations

from dataclasses import dataclass

import torch

import genzoo
from genzoo import DatasetSpec, LossSpec, MetricSpec, ModelSpec
from genzoo.config import doc
from genzoo.data import TensorImageDataset
from tests.fakes.tiny import TinyGAN, TinyGANConfig


@dataclass
class BareTupleConfig(TinyGANConfig):
    betas: tuple = doc("Adam betas, annotated with a bare tuple as the issue's author did", (0.5, 0.999))


class BareTupleGAN(TinyGAN):
    def players(self):
        players = super().players()
        return [type(p)(p.name, p.modules, lr=p.lr, betas=tuple(self.config.betas), steps=p.steps) for p in players]


def images(config, split: str, data_dir, *, scale: float = 1.0, seed=None) -> TensorImageDataset:
    generator = torch.Generator().manual_seed(0 if seed is None else seed)
    data = (torch.rand(12, 1, 4, 4, generator=generator) * 2 - 1) * scale
    return TensorImageDataset(data, torch.arange(12) % 2, name="x", normalisation={"range": [-1, 1]})


def out_of_range(config, split, data_dir):
    return images(config, split, data_dir, scale=2.0)


_calls = iter(range(10**6))


def reshuffled(config, split, data_dir):
    return images(config, split, data_dir, seed=next(_calls))


class Headless:
    def __init__(self, config) -> None:
        pass

    def compute(self, context) -> dict[str, float]:
        return {"score": 1.0}  # the headline must be under "headless"


class MeanGap:
    def __init__(self, config) -> None:
        pass

    def compute(self, context) -> dict[str, float]:
        return {"mean-gap": float((context.real.mean() - context.generated.mean()).abs())}


class LeakyHinge:
    """A hinge loss that forgets to detach the fakes in the discriminator loss."""

    role = "adversarial"

    def __init__(self, config) -> None:
        pass

    def discriminator_loss(self, critic, real, fake):
        loss = torch.relu(1 - critic(real)).mean() + torch.relu(1 + critic(fake)).mean()
        return {"loss": loss}

    def generator_loss(self, fake_scores):
        return -fake_scores.mean()


class MethodKL:
    """A divergence with a ``loss`` method instead of being callable (the mistake the old docs invited)."""

    role = "divergence"

    def __init__(self, config) -> None:
        pass

    def per_sample(self, mu, logvar):
        return 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(dim=1)

    def loss(self, mu, logvar):
        return self.per_sample(mu, logvar).mean()


@genzoo.hookimpl
def genzoo_models():
    return [ModelSpec("bare-tuple-gan", "tests.fakes.contract_plugin:BareTupleGAN", "config with betas: tuple",
                      config="tests.fakes.contract_plugin:BareTupleConfig")]


@genzoo.hookimpl
def genzoo_datasets():
    here = "tests.fakes.contract_plugin"
    return [DatasetSpec("good-images", f"{here}:images", "in range, deterministic"),
            DatasetSpec("out-of-range", f"{here}:out_of_range", "values in [-2, 2]"),
            DatasetSpec("reshuffled", f"{here}:reshuffled", "new images on every build")]


@genzoo.hookimpl
def genzoo_metrics():
    here = "tests.fakes.contract_plugin"
    return [MetricSpec("headless", f"{here}:Headless", "returns no headline"),
            MetricSpec("mean-gap", f"{here}:MeanGap", "|mean(real) - mean(generated)|", higher_is_better=False)]


@genzoo.hookimpl
def genzoo_losses():
    return [LossSpec("leaky-hinge", "tests.fakes.contract_plugin:LeakyHinge", "does not detach", role="adversarial"),
            LossSpec("method-kl", "tests.fakes.contract_plugin:MethodKL", "not callable", role="divergence")]
