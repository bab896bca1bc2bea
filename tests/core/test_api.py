"""The Python API: load by path or name, sample, encode, reconstruct, train on one's own data."""

from __future__ import annotations

import json

import pytest
import torch
from torch.utils.data import TensorDataset

import genzoo
import genzoo.trainer
from genzoo.errors import ConfigError
from genzoo.registry import get_registry
from genzoo.runconfig import TrainConfig, resolve_run_config


def test_load_a_published_checkpoint_by_name_and_use_it():
    model = genzoo.load("vae-mnist5k")
    assert model.genzoo_meta["model"] == "vae" and not model.training
    images = genzoo.sample(model, 6, seed=1)
    assert images.shape == (6, 1, 28, 28) and images.min() >= -1 and images.max() <= 1
    assert torch.equal(images, genzoo.sample(model, 6, seed=1))
    codes = genzoo.encode(model, images)
    assert codes.shape == (6, model.genzoo_meta["config"]["latent_dim"])
    again = genzoo.reconstruct(model, images)
    assert again.shape == images.shape
    assert torch.allclose(genzoo.sample("vae-mnist5k", 2, seed=1), images[:2], atol=1e-5)  # a name works too


def test_a_model_without_encoder_says_so():
    with pytest.raises(genzoo.GenzooError, match="model wgan-gp has no encoder"):
        genzoo.encode(genzoo.load("wgan-gp-mnist5k"), torch.zeros(1, 1, 28, 28))


def small(**extra):
    return dict(steps=2, batch_size=8, device="cpu", progress="none", log_every=1, sample_every=0,
                checkpoint_every=0, grid_size=4, config={"latent_dim": 4, "net": {"encoder_width": 4, "generator_width": 4}},
                **extra)


def test_train_on_a_users_tensor_without_a_plugin(tmp_path):
    images = torch.rand(40, 1, 28, 28) * 2 - 1
    result = genzoo.train("vae", images, out=tmp_path / "run", **small())
    assert isinstance(result, genzoo.TrainResult) and result.step == 2 and result.run_dir == tmp_path / "run"
    assert result.model.genzoo_meta["dataset"] == "custom" and result.model.genzoo_meta["data_shape"] == [1, 28, 28]
    assert genzoo.sample(result.model, 3).shape == (3, 1, 28, 28)
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["dataset"] == "custom" and saved["train"]["steps"] == 2
    assert [json.loads(x)["step"] for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()] == [1, 2]


def test_train_on_a_torch_dataset_of_image_label_pairs(tmp_path):
    data = TensorDataset(torch.rand(24, 1, 28, 28) * 2 - 1, torch.zeros(24, dtype=torch.long))
    result = genzoo.train("vae", data, out=tmp_path / "run", **small())
    assert result.model_path.is_file() and result.model.genzoo_meta["step"] == 2


def test_bad_user_data_and_settings_are_one_clear_error(tmp_path):
    with pytest.raises(ConfigError, match=r"must be in \[-1, 1\].*x \* 2 - 1"):
        genzoo.train("vae", torch.rand(8, 1, 28, 28) * 255, out=tmp_path / "a", **small())
    with pytest.raises(ConfigError, match="need a channel axis"):
        genzoo.train("vae", torch.zeros(8, 28, 28), out=tmp_path / "b", **small())
    with pytest.raises(ConfigError, match="unknown train setting 'log_evry'"):
        genzoo.train("vae", out=tmp_path / "c", log_evry=3)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_train_resolves_a_new_run_like_genzoo_run_does(tmp_path, monkeypatch):
    # the model's default budget and its own nested defaults, not the bare config classes'
    seen = {}

    class Stop(Exception):
        pass

    def capture(run_config, run_dir, **_):
        seen["config"] = run_config
        raise Stop

    monkeypatch.setattr(genzoo.trainer, "Trainer", capture)
    config = {"net": {"generator_width": 16}}
    with pytest.raises(Stop):
        genzoo.train("wgan-gp", out=tmp_path / "run", device="cpu", config=config)
    cli = resolve_run_config(model="wgan-gp", overrides=["net.generator_width=16"])
    assert seen["config"].train.steps == cli.train.steps == get_registry().get("model", "wgan-gp").default_steps
    assert seen["config"].model_config == cli.model_config
    assert seen["config"].model_config["net"]["discriminator_width"] == 64
    assert config == {"net": {"generator_width": 16}}  # the caller's dict is not modified
    # vae's budget (6,000) differs from TrainConfig's own default, so a lost budget shows here
    with pytest.raises(Stop):
        genzoo.train("vae", out=tmp_path / "vae", device="cpu")
    assert seen["config"].train.steps == get_registry().get("model", "vae").default_steps != TrainConfig().steps
