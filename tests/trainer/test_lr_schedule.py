"""train.lr_decay: the linear decay's values, the lr the optimisers end with, and resume exactness."""

from __future__ import annotations

import shutil

import pytest
import torch
from safetensors.torch import load_file

from genzoo.lr_schedule import lr_factor
from genzoo.runconfig import RunConfig, TrainConfig
from genzoo.trainer import Trainer, train


def config(steps=8, **train_kwargs) -> RunConfig:
    settings = dict(steps=steps, batch_size=16, log_every=2, sample_every=0, checkpoint_every=2, keep_last=10, grid_size=4)
    settings.update(train_kwargs)
    return RunConfig(model="tiny-gan", dataset="tiny-blobs", train=TrainConfig(**settings))


def test_the_factor_is_one_until_the_decay_starts_then_falls_linearly_and_never_reaches_zero():
    # 10 iterations, the last half: S = 5, factors min(1, (10 - t + 1) / 5)
    assert [lr_factor(t, 10, 0.5) for t in range(1, 11)] == [1, 1, 1, 1, 1, 1, 0.8, 0.6, 0.4, 0.2]
    assert [lr_factor(t, 4, 1.0) for t in range(1, 5)] == [1, 0.75, 0.5, 0.25]
    assert lr_factor(7, 10, 0.0) == 1.0
    assert lr_factor(1, 1, 0.01) == 1.0  # a decay shorter than one iteration is none


def test_the_optimisers_end_at_the_last_factor_of_their_own_lr(tiny_registry, tmp_path):
    trainer = Trainer(config(steps=8, lr_decay=0.5), tmp_path / "run", progress=False)
    trainer.fit()
    for name, opt in trainer.optimizers.items():  # the tiny model's own lrs, as built
        built = trainer.base_lrs[name][0]
        assert built == opt.defaults["lr"]
        assert opt.param_groups[0]["lr"] == pytest.approx(built * 0.25)  # (8 - 8 + 1) / (8 - 4)


def test_a_decayed_run_differs_from_a_constant_one_and_resumes_bit_for_bit(tiny_registry, tmp_path):
    constant = train(config(steps=8), tmp_path / "constant")
    full = train(config(steps=8, lr_decay=0.5), tmp_path / "full")
    a, c = load_file(str(full.model_path)), load_file(str(constant.model_path))
    assert any(not torch.equal(a[k], c[k]) for k in a)
    # cut the run back to its step-6 checkpoint, whose optimiser state holds an already decayed lr,
    # and resume it: the schedule must scale the lrs as built, not the decayed ones
    shutil.copytree(tmp_path / "full", tmp_path / "cut")
    shutil.rmtree(tmp_path / "cut/checkpoints/step-00000008")
    (tmp_path / "cut/model.safetensors").unlink()
    resumed = train(config(steps=8, lr_decay=0.5), tmp_path / "cut")
    assert resumed.step == 8
    b = load_file(str(resumed.model_path))
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.mark.parametrize("value", [-0.1, 1.5, float("nan")])
def test_a_decay_outside_zero_to_one_is_refused(value):
    with pytest.raises(ValueError, match="train.lr_decay must be in"):
        TrainConfig(lr_decay=value)
