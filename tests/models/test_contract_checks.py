"""genzoo.testing's checks for every plugin kind pass good components and fail broken ones."""

from __future__ import annotations

import pytest
import torch

from genzoo import testing
from genzoo.checkpoint import load_model, model_metadata, save_model
from genzoo.errors import GenzooError
from genzoo.evaluation import EvalContext, evaluate
from genzoo.plugins import PluginHost
from genzoo.registry import Registry, set_registry
from tests.conftest import FakeEntryPoint


@pytest.fixture(autouse=True)
def contract_registry():
    host = PluginHost([FakeEntryPoint("contract", "tests.fakes.contract_plugin", dist="genzoo-contract")],
                      strict=True, disabled=())
    previous = set_registry(Registry(host))
    yield
    set_registry(previous)


def test_a_bare_tuple_config_survives_the_checkpoint_round_trip(tmp_path):
    model = testing.check_model_contract("bare-tuple-gan", (1, 4, 4))
    from genzoo.registry import get_registry

    meta = model_metadata(model, get_registry().resolve("model", "bare-tuple-gan"), dataset="good-images",
                          dataset_config={}, data_shape=(1, 4, 4), normalisation={}, step=0)
    loaded, _ = load_model(save_model(tmp_path / "m.safetensors", model, meta))
    assert loaded.config.betas == (0.5, 0.999) and isinstance(loaded.config.betas, tuple)


def test_dataset_contract_passes_good_data_and_names_what_is_wrong():
    built = testing.check_dataset_contract("good-images")
    assert set(built) == {"train", "test"} and len(built["train"]) == 12
    with pytest.raises(AssertionError, match=r"out-of-range/train\[0\] leaves \[-1, 1\]"):
        testing.check_dataset_contract("out-of-range")
    with pytest.raises(AssertionError, match=r"reshuffled/train\[0\] differs between two builds"):
        testing.check_dataset_contract("reshuffled")


def test_metric_contract_and_the_headline_rule():
    result = testing.check_metric_contract("mean-gap", data_shape=(1, 4, 4), n=8)
    assert result.status == "ok" and result.value >= 0
    with pytest.raises(GenzooError, match=r"metric 'headless' returned no 'headless' value \(it returned 'score'\)"):
        testing.check_metric_contract("headless", data_shape=(1, 4, 4), n=8)
    context = EvalContext(None, torch.zeros(4, 1, 4, 4), generated=torch.zeros(4, 1, 4, 4))
    (row,) = evaluate(context, ["headless"], on_error="record")
    assert row.status == "error" and "no 'headless' value" in row.reason and row.to_dict()["value"] is None


def test_loss_contract_finds_a_discriminator_loss_that_does_not_detach():
    with pytest.raises(AssertionError, match="leaky-hinge: discriminator_loss must detach the fake samples"):
        testing.check_loss_contract("leaky-hinge")


def test_loss_contract_names_a_missing_method_instead_of_a_type_error():
    with pytest.raises(AssertionError, match=r"method-kl: a divergence loss must define __call__ \(the loss object is called"):
        testing.check_loss_contract("method-kl")


def test_a_model_given_a_loss_without_its_methods_says_so_in_one_line():
    from genzoo_models.common import build_loss  # how every first-party model builds its losses

    with pytest.raises(GenzooError, match=r"loss 'method-kl' is declared a divergence loss but does not define __call__"):
        build_loss("divergence", "method-kl", {"reduction": "sum"}, "loss.divergence", {"reduction": "sum"})
