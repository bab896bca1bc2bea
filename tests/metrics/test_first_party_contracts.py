"""genzoo runs its own contract checks over its first-party metrics and the embedded data set,
the same checks CONTRIBUTING.md asks plugin authors to run."""

from __future__ import annotations

import pytest
import torch

from genzoo import testing
from genzoo.registry import get_registry

FIRST_PARTY_METRICS = sorted(
    name for name in get_registry().names("metric")
    if get_registry().resolve("metric", name).plugin.distribution == "genzoo"
)  # fmt: skip


@pytest.fixture(scope="module")
def tiny_vae():
    torch.manual_seed(0)
    net = {"encoder_width": 4, "generator_width": 4}
    return get_registry().build_model("vae", {"latent_dim": 2, "net": net}, (1, 28, 28)).eval()


def test_every_first_party_metric_is_checked():
    assert {"fid", "kid", "log-likelihood", "class-coverage", "ms-ssim"} <= set(FIRST_PARTY_METRICS)


@pytest.mark.parametrize("name", FIRST_PARTY_METRICS)
def test_first_party_metric_keeps_the_contract(name, tiny_vae):
    spec = get_registry().get("metric", name)
    without_model = testing.check_metric_contract(name, data_shape=(1, 28, 28), n=24, dataset="mnist5k")
    if spec.requires:
        assert without_model.status == "n/a" and without_model.reason  # the checker's n/a branch
        with_model = testing.check_metric_contract(name, model=tiny_vae, data_shape=(1, 28, 28), n=24,
                                                   dataset="mnist5k", config=_small(name))
        assert with_model.status == "ok"
    else:
        assert without_model.status == "ok"


def _small(name: str):
    return {"samples": 4, "chunk": 4, "max_images": 4, "batch_size": 4} if name == "log-likelihood" else None


def test_the_embedded_data_set_keeps_the_contract():
    built = testing.check_dataset_contract("mnist5k")
    assert {k: len(v) for k, v in built.items()} == {"train": 4500, "test": 500, "all": 5000}
