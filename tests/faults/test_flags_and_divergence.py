"""Bad numbers in flags are one line; blown-up weights are never saved as good; lr and betas may
change on resume (noted in config_history.jsonl); identical runs give identical files."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.faults.campaign import counted, deep, refused, survived
from tests.faults.conftest import TINY_RUN

runner = CliRunner()

BAD_FLAGS = {
    "--epochs -1": (["--epochs", "-1"], "--epochs -1.0: give a positive finite number"),
    "--epochs 0": (["--epochs", "0"], "--epochs 0.0: give a positive finite number"),
    "--epochs nan": (["--epochs", "nan"], "--epochs nan: give a positive finite number"),
    "--epochs inf": (["--epochs", "inf"], "--epochs inf: give a positive finite number"),
    "--seed 10^20": (["--seed", "99999999999999999999"], "train.seed must be between 0 and 2^63-1"),
    "--seed -1": (["--seed", "-1"], "train.seed must be between 0 and 2^63-1"),
    "grid_size 10^8": (["--set", "train.grid_size=100000000"], "train.grid_size must be at most 1024"),
    "hidden nan": (["--set", "hidden=nan"], "model_config.hidden is nan; use a finite number"),
    "a float nan": (["--set", "train.epochs=nan"], "train.epochs is nan; use a finite number"),
    "--steps 0": (["--steps", "0"], "train.steps must be at least 1"),
    "--batch-size 0": (["--batch-size", "0"], "train.batch_size must be at least 1"),
    "deep --set value": (["--set", "hidden=" + deep(5000)], "expected an integer"),
    "latent_dim 10^9": (["--set", "latent_dim=1000000000"], "GiB of weights"),
}


@pytest.mark.parametrize("case", sorted(BAD_FLAGS))
def test_bad_numbers_are_one_line_and_train_nothing(cli, tmp_path, case):
    extra, words = BAD_FLAGS[case]
    out = tmp_path / "run"
    refused(runner.invoke(cli, [*TINY_RUN, "--steps", "3", *extra, "--out", str(out)]), contains=words)
    assert not out.exists()


def test_out_onto_a_file_and_config_onto_a_folder(cli, tmp_path):
    (tmp_path / "file").write_text("mine")
    refused(runner.invoke(cli, [*TINY_RUN, "--steps", "1", "--out", str(tmp_path / "file")]), contains="is a file")
    assert (tmp_path / "file").read_text() == "mine"
    refused(runner.invoke(cli, [*TINY_RUN, "--steps", "1", "--config", str(tmp_path), "--out", str(tmp_path / "r")]),
            contains="is a folder")
    deep_toml = tmp_path / "deep.toml"
    deep_toml.write_text("x = " + deep(100_000) + "\n")
    refused(runner.invoke(cli, [*TINY_RUN, "--steps", "1", "--config", str(deep_toml), "--out", str(tmp_path / "r")]),
            contains="not valid TOML")
    assert not (tmp_path / "r").exists()


def test_data_dir_of_an_embedded_data_set_is_reported(cli, tmp_path):
    result = runner.invoke(cli, [*TINY_RUN, "--steps", "1", "--data-dir", str(tmp_path / "nowhere"),
                                 "--out", str(tmp_path / "r")])
    survived(result, contains="is embedded and does not read --data-dir")


@pytest.mark.parametrize(("lr", "words"), [(-1.0, "lr=-1.0"), (0.0, "lr=0.0")])
def test_a_player_lr_that_is_not_positive_is_one_line(tiny_registry, tmp_path, lr, words, monkeypatch):
    from genzoo.errors import ConfigError
    from genzoo.model import Player
    from genzoo.trainer import check_optimiser_settings

    with pytest.raises(ConfigError, match=words) as info:
        check_optimiser_settings([Player("g", ("generator",), lr=lr)])
    counted(info.value)
    with pytest.raises(ConfigError, match="betas") as info:
        check_optimiser_settings([Player("g", ("generator",), betas=(0.5, 1.5))])
    counted(info.value)


def test_blown_up_weights_are_never_saved_as_the_last_good_checkpoint(cli, tmp_path, monkeypatch):
    import torch

    import genzoo.trainer

    real = genzoo.trainer.run_iteration

    def diverging(model, players, optimizers, stream, *, step, options):
        logged = real(model, players, optimizers, stream, step=step, options=options)
        if step == 4:  # (1-based, as metrics.jsonl) the loss was still finite, but a weight has overflowed just before a checkpoint
            with torch.no_grad():
                next(model.parameters()).fill_(float("inf"))
        return logged

    monkeypatch.setattr(genzoo.trainer, "run_iteration", diverging)
    out = tmp_path / "run"
    line = refused(runner.invoke(cli, [*TINY_RUN, "--steps", "6", "--out", str(out)]), contains="non-finite by step 4")
    assert "the last good checkpoint is" in line and "step-00000002" in line
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step-00000002"]


def _retuned_on_resume(tmp_path, where: str, old: float, new: float):
    """Train a tiny run to step 2 with lr ``old`` set in ``where`` (model_config or train), resume it
    to step 3 with ``new``; returns the resumed trainer, its folder and config_history.jsonl's records."""
    from genzoo.runconfig import RunConfig, TrainConfig
    from genzoo.trainer import Trainer, train

    def config(steps, lr):
        model_config = {"hidden": 8, **({"lr": lr} if where == "model_config" else {})}
        train_lr = {"lr": lr} if where == "train" else {}
        return RunConfig(model="tiny-gan", dataset="tiny-blobs", model_config=model_config,
                         train=TrainConfig(steps=steps, batch_size=8, checkpoint_every=2, log_every=1, grid_size=4,
                                           **train_lr))

    out = tmp_path / "run"
    train(config(2, old), out)
    trainer = Trainer(config(3, new), out, progress=False)
    trainer.fit()
    history = [json.loads(line) for line in (out / "config_history.jsonl").read_text().splitlines()]
    return trainer, out, history


def test_lr_may_change_on_resume_and_is_noted_in_the_history(tiny_registry, tmp_path):
    from genzoo.runconfig import RunConfig, TrainConfig
    from genzoo.trainer import train

    trainer, out, history = _retuned_on_resume(tmp_path, "model_config", 1e-3, 1e-4)
    assert all(g["lr"] == 1e-4 for opt in trainer.optimizers.values() for g in opt.param_groups)
    assert history[0]["step"] == 2 and history[0]["changed"] == {"model_config.lr": [1e-3, 1e-4]}
    from genzoo.errors import ConfigError

    with pytest.raises(ConfigError, match="different model_config") as info:
        train(RunConfig(model="tiny-gan", dataset="tiny-blobs", model_config={"hidden": 9, "lr": 1e-4},
                        train=TrainConfig(steps=4, batch_size=8, checkpoint_every=2, grid_size=4)), out)
    counted(info.value)


def test_train_lr_may_change_on_resume_too(tiny_registry, tmp_path):
    trainer, _, history = _retuned_on_resume(tmp_path, "train", 1e-3, 5e-4)
    assert all(g["lr"] == 5e-4 for opt in trainer.optimizers.values() for g in opt.param_groups)
    assert history[0]["step"] == 2 and history[0]["changed"] == {"train.lr": [1e-3, 5e-4]}


def test_identical_runs_give_identical_model_files(cli, tmp_path):
    import hashlib

    digests = []
    for name in ("a", "b"):
        result = runner.invoke(cli, [*TINY_RUN, "--steps", "2", "--out", str(tmp_path / name)])
        assert result.exit_code == 0, result.output
        digests.append(hashlib.sha256((tmp_path / name / "model.safetensors").read_bytes()).hexdigest())
        state = tmp_path / name / "checkpoints" / "step-00000002" / "trainer_state.safetensors"
        digests.append(hashlib.sha256(state.read_bytes()).hexdigest())
    assert digests[0] == digests[2] and digests[1] == digests[3]
    raw = (tmp_path / "a" / "model.safetensors").read_bytes()
    keys = list(json.loads(raw[8 : 8 + int.from_bytes(raw[:8], "little")])["__metadata__"])
    assert keys == sorted(keys)


BAD_SAMPLE_FLAGS = {
    "sample -n 10^8": (["sample", "{run}", "-n", "100000000", "-o", "{tmp}/g.png"], "give 1 to 100000 samples"),
    "sample --seed 10^20": (["sample", "{run}", "-n", "4", "--seed", "99999999999999999999", "-o", "{tmp}/g.png"],
                            "--seed 99999999999999999999: give an integer from 0"),
    "eval --seed 10^20": (["eval", "{run}", "-n", "8", "--seed", "99999999999999999999", "--metrics", "sharpness"],
                          "--seed 99999999999999999999: give an integer from 0"),
    "-o under a file": (["sample", "{run}", "-n", "4", "-o", "{tmp}/afile/g.png"], "a part of the path is a file"),
    "-o onto a pipe": (["sample", "{run}", "-n", "4", "-o", "{tmp}/pipe"], "exists and is not a regular file"),
    "export under a file": (["export", "{run}", "-o", "{tmp}/afile/x"], "a part of the path is a file"),
}


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="needs os.mkfifo (POSIX)")
@pytest.mark.parametrize("case", sorted(BAD_SAMPLE_FLAGS))
def test_bad_sample_eval_and_export_flags_are_one_line(cli, run, tmp_path, case):
    import os

    (tmp_path / "afile").write_text("mine")
    os.mkfifo(tmp_path / "pipe")  # like /dev/full or /dev/null: a rename would replace it
    args, words = BAD_SAMPLE_FLAGS[case]
    refused(runner.invoke(cli, [a.format(run=run, tmp=tmp_path) for a in args]), contains=words)
    assert (tmp_path / "afile").read_text() == "mine" and (tmp_path / "pipe").is_fifo()


def test_runs_shows_hostile_run_folders_as_text(cli, run, tmp_path):
    config = json.loads((run / "config.json").read_text())
    hostile = tmp_path / "hostile"
    hostile.mkdir()
    (hostile / "config.json").write_text(json.dumps({**config, "model": "[/]vae\x1b[2J"}))
    (hostile / "metrics.jsonl").write_text(deep(100_000) + "\n" + json.dumps({"step": "x", "g/loss": "[red]"}) + "\n"
                                           + json.dumps({"step": 3, "time": 1e300, "images_per_s": float("nan")}) + "\n")
    (hostile / "eval.json").write_text(json.dumps({"results": [{"status": "ok", "value": 1.0}, {"metric": ["x"]}, 5]}))
    odd_eval = tmp_path / "odd-eval"
    odd_eval.mkdir()
    (odd_eval / "config.json").write_text(json.dumps(config))
    (odd_eval / "eval.json").write_text(json.dumps({"results": 5}))
    deep_config = tmp_path / "deep"
    deep_config.mkdir()
    (deep_config / "config.json").write_text(deep(100_000))
    result = runner.invoke(cli, ["runs", str(tmp_path)])
    survived(result)
    assert "\x1b" not in result.stdout and "[/]vae?[2J" in result.stdout


@pytest.mark.parametrize(
    "change, words",
    [
        (lambda c: deep(100_000), "nested 100000 levels deep"),
        (lambda c: json.dumps({**c, "model": 5}), "'model' is not a model name"),
        (lambda c: json.dumps({**c, "train": [1]}), "'train' is not a table"),
        (lambda c: "{", "is not valid JSON"),
    ],
    ids=["deep", "model not a name", "train not a table", "cut"],
)
def test_resume_of_a_damaged_config_json_is_one_line(cli, run, change, words):
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(change(config))
    refused(runner.invoke(cli, [*TINY_RUN, "--steps", "6", "--out", str(run)]), contains=words)
