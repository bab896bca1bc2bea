"""The shared trainer on CPU: run folder, resume exactness, faults, signals."""

from __future__ import annotations

import errno
import json
import os
import signal

import pytest
import torch
from safetensors.torch import load_file

from genzoo.checkpoint import read_metadata
from genzoo.errors import CheckpointError, PluginMissingError, TrainingDiverged
from genzoo.plugins import PluginHost
from genzoo.registry import Registry
from genzoo.runconfig import RunConfig, TrainConfig
from genzoo.trainer import Interrupted, Trainer, checkpoint_dirs, train


def tiny_config(steps=6, **train_kwargs) -> RunConfig:
    defaults = dict(steps=steps, batch_size=16, log_every=2, sample_every=3, checkpoint_every=3, keep_last=2, grid_size=4)
    defaults.update(train_kwargs)
    return RunConfig(model="tiny-gan", dataset="tiny-blobs", train=TrainConfig(**defaults))


def weights(path):
    return load_file(str(path))


def test_run_folder_has_config_metrics_grids_curves_checkpoints(tiny_registry, tmp_path):
    result = train(tiny_config(steps=7), tmp_path / "run")
    run = result.run_dir
    assert result.step == 7
    saved = json.loads((run / "config.json").read_text())
    assert saved["model"] == "tiny-gan" and saved["train"]["steps"] == 7
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [2, 4, 6, 7]
    assert {"critic/loss", "critic/distance", "generator/loss", "images_per_s"} <= set(lines[0])
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step-00000003.png", "step-00000006.png", "step-00000007.png"]
    assert (run / "loss_curves.png").stat().st_size > 1000
    assert [p.name for p in checkpoint_dirs(run)] == ["step-00000006", "step-00000007"]  # keep_last=2
    meta = read_metadata(run / "model.safetensors")
    assert meta["model"] == "tiny-gan" and meta["plugin"] == "tiny" and meta["plugin_distribution"] == "genzoo-tiny"
    assert meta["step"] == 7 and meta["data_shape"] == [1, 8, 8] and meta["dataset"] == "tiny-blobs"
    assert meta["config"]["latent_dim"] == 4 and meta["normalisation"] == {"range": [-1, 1]}


def test_every_player_is_stepped_the_declared_number_of_times(tiny_registry, tmp_path):
    trainer = Trainer(tiny_config(steps=3), tmp_path / "run", progress=False)
    trainer.fit()
    state = {name: opt.state_dict()["state"] for name, opt in trainer.optimizers.items()}
    assert float(state["critic"][0]["step"]) == 6  # 2 critic steps per iteration
    assert float(state["generator"][0]["step"]) == 3


def test_resume_is_bit_identical_to_an_uninterrupted_run(tiny_registry, tmp_path):
    full = train(tiny_config(steps=8, checkpoint_every=4), tmp_path / "full")
    half = train(tiny_config(steps=4, checkpoint_every=4), tmp_path / "half")
    assert half.step == 4
    resumed = train(tiny_config(steps=8, checkpoint_every=4), tmp_path / "half")
    assert resumed.step == 8
    a, b = weights(full.model_path), weights(resumed.model_path)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    # the sample grids drawn from the saved fixed noise match too
    assert (tmp_path / "full/samples/step-00000008.png").read_bytes() == (tmp_path / "half/samples/step-00000008.png").read_bytes()


def test_resume_across_an_epoch_boundary_with_odd_sizes(tiny_registry, tmp_path):
    """96 images / batch 16 = 6 batches per epoch, 3 per step: resume at step 3 lands mid-epoch 1."""
    config = tiny_config(steps=5, checkpoint_every=3, batch_size=16)
    full = train(config, tmp_path / "full")
    first = train(tiny_config(steps=3, checkpoint_every=3), tmp_path / "part")
    train(config, tmp_path / "part")
    for key, value in weights(full.model_path).items():
        assert torch.equal(value, weights(tmp_path / "part/model.safetensors")[key]), key
    assert first.step == 3


def test_nan_loss_stops_with_player_and_step_and_keeps_last_checkpoint(tiny_registry, tmp_path):
    config = tiny_config(steps=10, checkpoint_every=2, log_every=1)
    config.model_config = {"nan_after": 5}  # the 6th generator step is NaN
    with pytest.raises(TrainingDiverged, match=r"player 'generator' produced a non-finite loss at step 6") as info:
        train(config, tmp_path / "run")
    # the step is numbered as metrics.jsonl numbers it: its last good line is step 5
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["step"] == 5
    assert "step-00000004" in str(info.value)
    assert [p.name for p in checkpoint_dirs(tmp_path / "run")][-1] == "step-00000004"


def test_failed_checkpoint_write_keeps_previous_checkpoint(tiny_registry, tmp_path, monkeypatch):
    run = tmp_path / "run"
    train(tiny_config(steps=2, checkpoint_every=2), run)
    before = weights(run / "checkpoints/step-00000002/model.safetensors")

    import genzoo.checkpoint as checkpoint_module

    original = checkpoint_module.atomic_write

    def full_disk(path, write):
        if "step-00000004" in str(path.parent):
            def failing(tmp):
                tmp.write_bytes(b"partial")
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return original(path, failing)
        return original(path, write)

    monkeypatch.setattr("genzoo.trainer.save_model", lambda p, m, meta: checkpoint_module.save_model(p, m, meta))
    monkeypatch.setattr(checkpoint_module, "atomic_write", full_disk)
    with pytest.raises(CheckpointError, match=r"No space left on device.*; step-00000002 is intact"):
        train(tiny_config(steps=4, checkpoint_every=2), run)
    assert [p.name for p in checkpoint_dirs(run)] == ["step-00000002"]
    after = weights(run / "checkpoints/step-00000002/model.safetensors")
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not any(p.name.startswith(".") for p in (run / "checkpoints").iterdir())


def test_sigterm_saves_a_checkpoint_and_stops(tiny_registry, tmp_path):
    trainer = Trainer(tiny_config(steps=50, checkpoint_every=0, log_every=1), tmp_path / "run", progress=False)

    def on_log(record):
        if record["step"] == 3:
            os.kill(os.getpid(), signal.SIGTERM)

    with pytest.raises(Interrupted, match=r"SIGTERM received: stopped at step 3 .* --resume"):
        trainer.fit(on_log=on_log)
    assert [p.name for p in checkpoint_dirs(tmp_path / "run")] == ["step-00000003"]
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


def test_bf16_autocast_trains_on_cpu(tiny_registry, tmp_path):
    result = train(tiny_config(steps=2, precision="bf16"), tmp_path / "run")
    assert result.step == 2
    assert all(torch.isfinite(v.float()).all() for v in weights(result.model_path).values())


def test_fp16_uses_one_grad_scaler_per_player_and_resumes_their_state(tiny_registry, tmp_path):
    from genzoo.train_state import load_train_state

    trainer = Trainer(tiny_config(steps=2, precision="fp16", checkpoint_every=2), tmp_path / "run", progress=False)
    trainer.fit()
    assert set(trainer.options.scalers) == {"critic", "generator"}
    trainer.options.scalers["critic"].update(new_scale=512.0)  # as after overflows: not a fresh scaler's value
    trainer.save_checkpoint()
    saved = load_train_state(tmp_path / "run/checkpoints/step-00000002/trainer_state.safetensors")["scalers"]
    assert saved["critic"]["scale"] == 512.0
    assert set(saved) == {"critic", "generator"} and all(state["scale"] > 0 for state in saved.values())
    resumed = Trainer(tiny_config(steps=3, precision="fp16", checkpoint_every=2), tmp_path / "run", progress=False)
    resumed._setup()
    resumed._resume(tmp_path / "run/checkpoints/step-00000002")
    assert {name: s.get_scale() for name, s in resumed.options.scalers.items()} == {
        name: state["scale"] for name, state in saved.items()}


def test_epochs_sets_the_step_budget(tiny_registry, tmp_path):
    # 96 images, batch 16 -> 6 batches per epoch; 3 batches per iteration -> 2 iterations per epoch
    result = train(tiny_config(steps=1, epochs=2.0), tmp_path / "run")
    assert result.step == 4


def test_batch_stream_order_is_the_same_with_workers_and_after_seek(tiny_registry):
    from genzoo.batches import BatchStream

    dataset = tiny_registry.build_dataset("tiny-blobs", None, "train")
    plain = BatchStream(dataset, batch_size=16, seed=3)
    expected = [next(plain) for _ in range(9)]  # crosses the 6-batch epoch boundary
    workers = BatchStream(dataset, batch_size=16, seed=3, num_workers=2)
    assert all(torch.equal(a, next(workers)) for a in expected)
    resumed = BatchStream(dataset, batch_size=16, seed=3)
    resumed.seek(0, 4)
    assert all(torch.equal(a, next(resumed)) for a in expected[4:])
    assert resumed.position() == {"epoch": 1, "batch": 3}


def test_ranks_get_disjoint_shards(tiny_registry):
    from genzoo.batches import EpochBatchSampler

    shards = [set(i for batch in EpochBatchSampler(96, 8, seed=0, epoch=0, rank=r, world=2) for i in batch) for r in (0, 1)]
    assert not shards[0] & shards[1] and len(shards[0]) == len(shards[1]) == 48


def test_compile_wraps_every_network_and_keeps_checkpoint_keys(tiny_registry, tmp_path):
    # aot_eager goes through AOTAutograd as inductor does (its backward is what a gradient penalty must
    # not differentiate), without inductor's code generation; inductor is exercised by --compile on a GPU.
    trainer = Trainer(tiny_config(steps=2, compile=True, compile_backend="aot_eager"), tmp_path / "run", progress=False)
    result = trainer.fit()
    assert all(getattr(child, "_compiled_call_impl", None) is not None for child in trainer.model.children())
    assert all("_orig_mod" not in key for key in weights(result.model_path))


def test_run_folder_records_resolved_configs_and_a_mismatch_is_one_line(tiny_registry, tmp_path):
    run = tmp_path / "run"
    train(tiny_config(steps=2, checkpoint_every=2), run)
    saved = json.loads((run / "config.json").read_text())
    assert saved["model_config"] == {"latent_dim": 4, "hidden": 16, "critic_steps": 2, "nan_after": -1, "lr": 1e-3}
    assert saved["data_config"] == {"size": 96, "side": 8}
    # every model field is in the saved config, so a later change of a plugin default cannot
    # change the networks a resume builds
    config = RunConfig.from_dict({**saved, "train": {**saved["train"], "steps": 4}})
    assert train(config, run).step == 4
    # a changed model config is refused before any weights are loaded
    changed = RunConfig.from_dict({**saved, "model_config": {**saved["model_config"], "hidden": 32},
                                   "train": {**saved["train"], "steps": 6}})
    from genzoo.errors import ConfigError

    with pytest.raises(ConfigError, match=r"was trained with different model_config \(hidden: \d+ -> 32\)"):
        train(changed, run)


def test_resume_refuses_changed_settings_and_trims_metrics(tiny_registry, tmp_path):
    run = tmp_path / "run"
    train(tiny_config(steps=4, checkpoint_every=2, log_every=1), run)
    # a crash after step 4's checkpoint... then lines logged after it must not be repeated
    (run / "metrics.jsonl").open("a").write(json.dumps({"step": 5, "generator/loss": 1.0}) + "\n")
    import shutil

    shutil.rmtree(run / "checkpoints" / "step-00000004")
    train(tiny_config(steps=5, checkpoint_every=2, log_every=1), run)
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5]
    from genzoo.errors import ConfigError

    with pytest.raises(ConfigError, match="different train.seed"):
        train(tiny_config(steps=8, seed=1), run)


def test_steps_flag_replaces_a_saved_epoch_budget():
    from genzoo.runconfig import resolve_run_config

    base = {"model": "tiny-gan", "train": {"steps": 5, "epochs": 1.0}}
    assert resolve_run_config(model=None, base=base, flags={"steps": 9}).train.epochs == 0.0


def test_resume_without_the_model_plugin_gives_the_install_hint(tiny_registry, tmp_path):
    train(tiny_config(steps=2, checkpoint_every=2), tmp_path / "run")
    without = Registry(PluginHost([], strict=True, disabled=()))
    with pytest.raises(PluginMissingError, match=r"--resume .* needs model 'tiny-gan' from plugin 'tiny', which is not "
                                                 r"installed: pip install 'genzoo-tiny>=0.0.1'"):
        train(tiny_config(steps=4, checkpoint_every=2), tmp_path / "run", registry=without)
