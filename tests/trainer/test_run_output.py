"""What a run tells a log file, a terminal and an experiment tracker."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys

import pytest
from rich.console import Console

from genzoo import console
from genzoo.errors import ConfigError
from genzoo.progress import TrainingProgress, format_duration
from genzoo.runconfig import RunConfig, TrainConfig
from genzoo.tracking import RunLogger, TensorBoardLogger, build_loggers, parse_logger_names
from genzoo.trainer import Trainer, train


def tiny_config(steps=4, **kwargs) -> RunConfig:
    values = dict(steps=steps, batch_size=8, log_every=2, sample_every=2, checkpoint_every=2, grid_size=4)
    values.update(kwargs)
    return RunConfig(model="tiny-gan", dataset="tiny-blobs", train=TrainConfig(**values))


def test_a_log_file_gets_a_start_line_and_plain_periodic_lines(tmp_path):
    run = tmp_path / "run"
    log = tmp_path / "log"
    command = [sys.executable, "-m", "genzoo", "run", "vae", "--steps", "4", "--batch-size", "8", "--device", "cpu",
               "--set", "train.log_every=2", "--set", "latent_dim=4", "--set", "net.encoder_width=4",
               "--set", "net.generator_width=4", "-o", str(run)]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    with log.open("w") as handle:
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=handle, text=True, env=env, timeout=300)
    assert done.returncode == 0, log.read_text()
    lines = log.read_text().splitlines()
    assert re.fullmatch(
        rf"genzoo: training vae on mnist5k \| run {re.escape(str(run))} \| device cpu \| [\d,]+ parameters "
        r"\| 4 steps of batch 8", lines[0]), lines[0]
    steps = [line for line in lines if line.startswith("step ")]
    assert len(steps) == 2
    for line, step in zip(steps, (2, 4)):
        assert re.fullmatch(rf"step {step}/4 \({step * 25}%\) \| \d+ img/s \| ETA \d+s \| vae/loss=[-\d.e+]+", line), line
    assert lines[-1].startswith("genzoo: done: 4 steps in ")
    assert "\x1b[" not in log.read_text()  # no terminal escapes in a log file
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(abs(r["time"] - records[0]["time"]) < 600 and r["time"] > 1.7e9 for r in records)


def test_the_terminal_bar_shows_rate_and_losses_from_the_first_step_also_after_a_resume(monkeypatch):
    screen = io.StringIO()
    monkeypatch.setattr(console, "stderr", Console(file=screen, force_terminal=True, width=200))
    progress = TrainingProgress(total=100, start=50, mode="auto", images_per_step=64)
    assert progress.mode == "bar"
    with progress:
        progress.announce({"model": "m", "dataset": "d", "run_dir": "r", "device": "cpu", "parameters": 1234,
                           "steps": 100, "batch_size": 64})
        progress.first_losses({"critic/loss": 1.5, "critic/distance": 9.0})
        progress.update(51, None)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())
    assert "1,234 parameters" in text and "(resuming at step 50)" in text
    assert "51/100" in text and "critic/loss=1.5" in text and "critic/distance" not in text
    assert re.search(r"\d+ img/s", text)


def test_quiet_prints_nothing_and_lines_mode_is_plain(tiny_registry, tmp_path, capfd):
    train(tiny_config(), tmp_path / "quiet", progress="none")
    assert capfd.readouterr().err == ""
    train(tiny_config(), tmp_path / "lines", progress="lines")
    err = capfd.readouterr().err.splitlines()
    assert err[0].startswith("genzoo: training tiny-gan on tiny-blobs | run ") and "4 steps of batch 8" in err[0]
    assert [line.split(" |")[0] for line in err[2:4]] == ["step 2/4 (50%)", "step 4/4 (100%)"]
    assert re.fullmatch(r"genzoo: one step takes [\d.]+s; at that pace the 4 steps take about \d+s \| critic/loss=.*", err[1])
    assert "generator/loss=" in err[2] and "critic/loss=" in err[2]


def test_the_estimate_times_the_second_step_and_scales_it_to_the_budget(capfd, monkeypatch):
    from genzoo import progress as progress_module

    clock = iter([100.0, 100.0, 160.0, 167.0])  # __init__, __enter__, step 501 (60 s of warm-up), step 502: 7 s
    monkeypatch.setattr(progress_module.time, "perf_counter", lambda: next(clock))
    bar = progress_module.TrainingProgress(total=2000, start=500, mode="lines")
    bar.__enter__()
    bar.first_losses({"gvae/loss": 1.0})
    bar.update(501, None)
    assert capfd.readouterr().err == ""
    bar.update(502, None)
    err = capfd.readouterr().err  # 67 s so far + 1498 steps x 7 s
    assert "one step takes 7.00s; at that pace the 1500 steps take about 2h55m | gvae/loss=1" in err


def test_format_duration():
    assert [format_duration(s) for s in (0, 12.4, 245, 3725)] == ["0s", "12s", "4m05s", "1h02m"]


class Recorder(RunLogger):
    def __init__(self, run_dir, config):
        self.events = [("init", str(run_dir), config["model"])]

    def start(self, info):
        self.events.append(("start", info["model"], info["steps"], info["parameters"] > 0))

    def log_metrics(self, step, record):
        self.events.append(("metrics", step, sorted(k for k in record if k in ("time", "images_per_s"))))

    def log_images(self, step, tag, images):
        self.events.append(("images", step, tag, tuple(images.shape)))

    def close(self):
        self.events.append(("close",))


def test_a_trackers_hooks_are_called_in_order(tiny_registry, tmp_path):
    recorder = Recorder(tmp_path / "run", {"model": "tiny-gan"})
    Trainer(tiny_config(), tmp_path / "run", progress=False, loggers=[recorder]).fit()
    assert recorder.events == [
        ("init", str(tmp_path / "run"), "tiny-gan"), ("start", "tiny-gan", 4, True),
        ("metrics", 2, ["images_per_s", "time"]), ("images", 2, "samples", (4, 1, 8, 8)),
        ("metrics", 4, ["images_per_s", "time"]), ("images", 4, "samples", (4, 1, 8, 8)), ("close",),
    ]


def test_tensorboard_writes_scalars_and_sample_grids(tiny_registry, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    [logger] = build_loggers(["tensorboard"], run, tiny_config().to_dict())
    assert isinstance(logger, TensorBoardLogger)
    Trainer(tiny_config(), run, progress=False, loggers=[logger]).fit()
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    tags = events.Tags()
    assert {"generator/loss", "critic/loss", "images_per_s", "epoch"} <= set(tags["scalars"])
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    scalars = events.Scalars("generator/loss")
    assert [s.step for s in scalars] == [2, 4]
    assert [round(s.value, 4) for s in scalars] == [round(m["generator/loss"], 4) for m in metrics]
    assert scalars[0].wall_time == pytest.approx(metrics[0]["time"], abs=1e-3)
    images = events.Images("samples")
    assert [i.step for i in images] == [2, 4] and images[0].encoded_image_string[:4] == b"\x89PNG"


def test_unknown_tracker_is_one_line_listing_the_available_ones(tmp_path):
    assert parse_logger_names(["tensorboard,wandb", "mlflow", "wandb"]) == ["tensorboard", "wandb", "mlflow"]
    with pytest.raises(ConfigError, match=r"unknown tracker 'wandb' for --log \(available: tensorboard\)"):
        build_loggers(["wandb"], tmp_path, {})


def test_a_plugin_adds_a_tracker_through_the_genzoo_loggers_hook(tmp_path):
    import genzoo
    from genzoo.plugins import PluginHost
    from genzoo.tracking import available_loggers
    from tests.conftest import FakeEntryPoint, make_module

    @genzoo.hookimpl
    def genzoo_loggers():
        return {"recorder": "tests.trainer.test_run_output:Recorder"}

    @genzoo.hookimpl(specname="genzoo_loggers")
    def bad_loggers():
        return {"Bad Name": "x:y"}

    warnings = []
    host = PluginHost([FakeEntryPoint("rec", make_module("rec", genzoo_loggers=genzoo_loggers)),
                       FakeEntryPoint("bad", make_module("bad", genzoo_loggers=bad_loggers))],
                      strict=False, disabled=(), warn=warnings.append)
    assert available_loggers(host) == {"tensorboard": "genzoo.tracking:TensorBoardLogger",
                                       "recorder": "tests.trainer.test_run_output:Recorder"}
    assert len(warnings) == 1 and "plugin bad" in warnings[0] and "'Bad Name' is not a valid name" in warnings[0]
    [logger] = build_loggers(["recorder"], tmp_path, {"model": "m"}, host)
    assert isinstance(logger, Recorder) and logger.events == [("init", str(tmp_path), "m")]
