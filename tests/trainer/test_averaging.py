"""The moving average of the weights: its recurrence, what each checkpoint file holds, and resume."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from genzoo.averaging import WeightAverage, decay_at
from genzoo.runconfig import TrainConfig
from genzoo.trainer import Trainer, checkpoint_dirs, train
from genzoo.train_state import load_train_state
from tests.trainer.test_trainer import tiny_config


def test_the_average_follows_its_recurrence_with_the_ramped_decay():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    average = WeightAverage(net, 0.9)
    expected = {k: v.clone() for k, v in net.state_dict().items()}
    for step in range(1, 30):
        with torch.no_grad():
            for p in net.parameters():
                p.add_(torch.randn_like(p))
        net(torch.randn(4, 3))  # moves the batch-norm statistics and their integer counter
        average.update(step)
        d = min(0.9, (1 + step) / (10 + step))
        for k, v in net.state_dict().items():
            expected[k] = d * expected[k] + (1 - d) * v if v.is_floating_point() else v.clone()
    for k, v in average.tensors.items():
        torch.testing.assert_close(v, expected[k], rtol=1e-6, atol=1e-6)
    assert decay_at(1, 0.999) == pytest.approx(2 / 11) and decay_at(10**6, 0.999) == 0.999
    assert average.tensors["1.num_batches_tracked"] == 29


def test_applied_swaps_the_average_in_and_restores_the_live_weights():
    net = nn.Linear(2, 2)
    average = WeightAverage(net, 0.5)
    live = {k: v.clone() for k, v in net.state_dict().items()}
    for t in average.tensors.values():
        t.add_(1.0)
    with average.applied():
        assert torch.equal(net.weight, live["weight"] + 1)
    assert torch.equal(net.weight, live["weight"])


def test_the_model_file_holds_the_average_and_the_training_state_the_live_weights(tiny_registry, tmp_path):
    trainer = Trainer(tiny_config(steps=6, checkpoint_every=6), tmp_path / "run", progress=False)
    trainer.fit()
    folder = checkpoint_dirs(tmp_path / "run")[-1]
    published = load_file(str(folder / "model.safetensors"))
    live = load_train_state(folder / "trainer_state.safetensors")["live"]
    assert published.keys() == live.keys() == trainer.model.state_dict().keys()
    for key, value in trainer.model.state_dict().items():
        assert torch.equal(live[key], value), key
        assert torch.equal(published[key], trainer.average.tensors[key]), key
    assert any(not torch.equal(published[k], live[k]) for k in live if live[k].is_floating_point())
    assert load_file(str(tmp_path / "run" / "model.safetensors")).keys() == published.keys()


def test_without_the_average_the_model_file_holds_the_live_weights(tiny_registry, tmp_path):
    trainer = Trainer(tiny_config(steps=4, checkpoint_every=4, ema=0.0), tmp_path / "run", progress=False)
    trainer.fit()
    assert trainer.average is None
    folder = checkpoint_dirs(tmp_path / "run")[-1]
    assert load_train_state(folder / "trainer_state.safetensors")["live"] == {}
    for key, value in load_file(str(folder / "model.safetensors")).items():
        assert torch.equal(value, trainer.model.state_dict()[key]), key


def test_resume_restores_both_the_average_and_the_live_weights_exactly(tiny_registry, tmp_path):
    full = Trainer(tiny_config(steps=8, checkpoint_every=4), tmp_path / "full", progress=False)
    full.fit()
    train(tiny_config(steps=4, checkpoint_every=4), tmp_path / "half")
    resumed = Trainer(tiny_config(steps=8, checkpoint_every=4), tmp_path / "half", progress=False)
    resumed.fit()
    for key, value in full.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
        assert torch.equal(full.average.tensors[key], resumed.average.tensors[key]), key


def test_changing_the_average_on_resume_is_refused(tiny_registry, tmp_path):
    train(tiny_config(steps=2, checkpoint_every=2), tmp_path / "run")
    from genzoo.errors import ConfigError

    with pytest.raises(ConfigError, match="train.ema"):
        train(tiny_config(steps=4, checkpoint_every=2, ema=0.9), tmp_path / "run")


@pytest.mark.parametrize("bad", [1.0, -0.1, float("nan")])
def test_a_decay_outside_0_1_is_refused(bad):
    with pytest.raises(ValueError, match="train.ema must be in"):
        TrainConfig(ema=bad)


def test_tied_weights_are_saved_apart_in_the_training_state(tmp_path):
    """A plugin model may register one tensor under two names; safetensors refuses shared storage."""
    from genzoo.checkpoint import state_tensors
    from genzoo.train_state import save_train_state

    net = nn.Module()
    net.a = nn.Linear(2, 2)
    net.b = net.a
    path = save_train_state(tmp_path / "state.safetensors", optimizers={}, scalers={}, step=1,
                            data_position={"epoch": 0, "batch": 0}, fixed_noise=torch.zeros(1),
                            live_weights=state_tensors(net))
    assert set(load_train_state(path)["live"]) == {"a.weight", "a.bias", "b.weight", "b.bias"}


def test_non_finite_live_weights_make_resume_fall_back_to_an_older_checkpoint(tiny_registry, tmp_path):
    from safetensors.torch import save_file

    from genzoo.tensorfile import read_header

    train(tiny_config(steps=4, checkpoint_every=2, keep_last=3), tmp_path / "run")
    newest = checkpoint_dirs(tmp_path / "run")[-1] / "trainer_state.safetensors"
    tensors = load_file(str(newest))
    key = next(k for k in tensors if k.startswith("live/") and tensors[k].is_floating_point())
    tensors[key] = torch.full_like(tensors[key], float("nan"))
    save_file(tensors, str(newest), metadata=read_header(newest)[1])
    resumed = Trainer(tiny_config(steps=5, checkpoint_every=2, keep_last=3), tmp_path / "run", progress=False)
    resumed.fit()
    assert resumed.step == 5
