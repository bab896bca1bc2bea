"""genzoo.testing catches broken models (so the contract tests can fail)."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from genzoo.model import GenerativeModel, Player
from genzoo.testing import check_inference, check_sampling, check_training_step


class Config:
    latent_dim = 3


class Broken(GenerativeModel):
    """A generator with a dead branch; optionally unbounded samples and a bad encoder."""

    capabilities = frozenset({"encoder"})

    def __init__(self, bounded: bool = True) -> None:
        super().__init__(Config(), (1, 2, 2))
        self.generator = nn.Linear(3, 4)
        self.unused = nn.Linear(3, 4)
        self.bounded = bounded

    def players(self) -> list[Player]:
        return [Player("g", ("generator", "unused"))]

    def loss(self, player: str, batch: Tensor) -> dict[str, Tensor]:
        return {"loss": (self.generate(torch.randn(batch.shape[0], 3)) - batch).pow(2).mean()}

    def generate(self, noise: Tensor) -> Tensor:
        out = self.generator(noise).view(-1, 1, 2, 2)
        return out.tanh() if self.bounded else out * 100

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return torch.zeros(x.shape[0], 2), torch.zeros(x.shape[0], 2)  # wrong latent size


def test_dead_parameters_are_named_only_in_strict_mode() -> None:
    with pytest.raises(AssertionError, match=r"unused\.weight"):
        check_training_step(Broken(), require_all=True)
    assert "g/loss" in check_training_step(Broken(), require_all=False)


def test_samples_outside_the_data_range_fail() -> None:
    check_sampling(Broken())
    with pytest.raises(AssertionError, match=r"leave \[-1, 1\]"):
        check_sampling(Broken(bounded=False))


def test_encoder_of_the_wrong_latent_shape_fails() -> None:
    with pytest.raises(AssertionError, match=r"expected \(3, 3\)"):
        check_inference(Broken())


def test_a_model_without_latent_dim_gets_one_line_saying_what_to_define():
    from genzoo.errors import GenzooError
    from genzoo.model import GenerativeModel

    class ZDim(GenerativeModel):
        def __init__(self) -> None:
            super().__init__(type("Config", (), {"z_dim": 8})(), (1, 8, 8))
            self.generator = nn.Linear(8, 64)

    model = ZDim()
    with pytest.raises(GenzooError, match=r"ZDim: its config has no latent_dim field; give the config an integer "
                                          r"latent_dim >= 1 or override the latent_shape property"):
        model.sample_noise(2)
