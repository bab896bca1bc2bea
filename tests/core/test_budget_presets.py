"""Model budgets and presets from the spec, the shared lr override and the validation holdout."""

from __future__ import annotations

import pytest
import torch

from genzoo.data import TensorImageDataset, split_holdout
from genzoo.errors import ConfigError, DataError
from genzoo.runconfig import TrainConfig, resolve_run_config
from genzoo.steps import build_optimizers


def test_a_new_run_without_a_budget_trains_for_the_models_default_steps():
    from genzoo.registry import get_registry

    spec = get_registry().get("model", "gvae")
    assert spec.default_steps and resolve_run_config(model="gvae").train.steps == spec.default_steps
    vae = get_registry().get("model", "vae")  # a budget unlike TrainConfig's own default, so its loss shows
    assert resolve_run_config(model="vae").train.steps == vae.default_steps != TrainConfig().steps
    assert resolve_run_config(model="gvae", flags={"steps": 7}).train.steps == 7
    assert resolve_run_config(model="gvae", overrides=["train.steps=9"]).train.steps == 9
    assert resolve_run_config(model="gvae", flags={"epochs": 2.0}).train.epochs == 2.0
    # a resumed run keeps its own budget
    base = resolve_run_config(model="gvae", flags={"steps": 5}).to_dict()
    assert resolve_run_config(model=None, base=base).train.steps == 5


def test_a_preset_sets_its_values_before_the_users_overrides():
    config = resolve_run_config(model="gvae", preset="paper")
    assert config.preset == "paper" and config.model_config["lr"] == pytest.approx(1e-4)
    config = resolve_run_config(model="gvae", preset="paper", overrides=["lr=3e-4"])
    assert config.model_config["lr"] == pytest.approx(3e-4)
    with pytest.raises(ConfigError, match="has no preset 'nope' \\(presets: .*paper"):
        resolve_run_config(model="gvae", preset="nope")


def test_every_first_party_model_declares_a_paper_preset_that_builds():
    from genzoo.registry import get_registry

    registry = get_registry()
    for name in ("gvae", "vae", "wgan-gp", "alpha-gan", "vae-gan", "avb"):
        spec = registry.get("model", name)
        for preset in spec.presets:
            config = resolve_run_config(model=name, preset=preset)
            model_config = registry.make_config(spec, config.model_config)
            registry.build_model(name, model_config, (1, 28, 28))
        assert "paper" in spec.presets, name


def test_train_lr_replaces_every_players_lr():
    from genzoo.registry import get_registry

    registry = get_registry()
    model = registry.build_model("wgan-gp", registry.make_config(registry.get("model", "wgan-gp"), {}), (1, 28, 28))
    own = {name: opt.param_groups[0]["lr"] for name, opt in build_optimizers(model).items()}
    assert own == {"critic": pytest.approx(model.config.critic_lr), "generator": pytest.approx(model.config.generator_lr)}
    shared = build_optimizers(model, lr=7e-4)
    assert {opt.param_groups[0]["lr"] for opt in shared.values()} == {7e-4}
    with pytest.raises(ConfigError, match="train.lr and train.holdout must be >= 0"):
        resolve_run_config(model="gvae", overrides=["train.lr=-1"])


def test_holdout_is_disjoint_fixed_across_seeds_and_keeps_labels():
    images = torch.arange(50, dtype=torch.float32).view(50, 1, 1, 1).expand(50, 1, 2, 2).contiguous()
    labels = torch.arange(50) % 10
    data = TensorImageDataset(images, labels, name="toy", normalisation={})
    fit, validation = split_holdout(data, 10)
    torch.manual_seed(123)  # the run's seed does not move the split
    fit2, validation2 = split_holdout(data, 10)
    assert len(fit) == 40 and len(validation) == 10
    assert torch.equal(validation.indices, validation2.indices) and torch.equal(fit.indices, fit2.indices)
    assert set(fit.indices.tolist()).isdisjoint(validation.indices.tolist())
    assert torch.equal(validation.labels, labels[validation.indices])
    batch = fit.__getitems__([0, 3])
    assert torch.equal(batch[:, 0, 0, 0], fit.indices[[0, 3]].float())
    assert fit.shape == (1, 2, 2) and fit.name == "toy"
    with pytest.raises(DataError, match="between 1 and 49"):
        split_holdout(data, 50)
