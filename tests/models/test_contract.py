"""The model contract over every model the registry lists, at a 2D, a ResNet and a 3D shape."""

from __future__ import annotations

import dataclasses

import pytest

from genzoo.registry import get_registry
from genzoo.testing import check_model_contract

SHAPES = [(1, 28, 28), (3, 64, 64), (1, 32, 32, 32)]
TINY_NET = {"encoder_width": 4, "generator_width": 4, "discriminator_width": 4, "max_width": 16}


def tiny_config(name: str) -> dict:
    """Shrink every width the model's config has (first-party layout: a ``net`` table and
    ``code_hidden``); other models keep their defaults."""
    cls = get_registry().get("model", name).config_class()
    if cls is None:
        return {}
    names = {f.name for f in dataclasses.fields(cls)}
    config: dict = {}
    if "net" in names:
        config["net"] = dict(TINY_NET)
    if "latent_dim" in names:
        config["latent_dim"] = 8
    if "code_hidden" in names:
        config["code_hidden"] = 8
    return config


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("name", get_registry().names("model"))
def test_model_contract(name: str, shape: tuple[int, ...]) -> None:
    first_party = get_registry().resolve("model", name).plugin.value == "genzoo_models.plugin"
    model = check_model_contract(name, shape, tiny_config(name), strict=first_party)
    assert model.sample(2).shape == (2, *shape)


def test_all_first_party_models_are_listed() -> None:
    assert {"gvae", "vae", "wgan-gp", "alpha-gan", "vae-gan", "avb"} <= set(get_registry().names("model"))
