"""The example plugin, installed as a real distribution: listed, trainable, and hideable."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import torch

from genzoo.registry import get_registry
from genzoo.runconfig import RunConfig, TrainConfig
from genzoo.trainer import train


def genzoo_cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "genzoo", *args], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=300)


def test_listed_with_its_distribution():
    result = genzoo_cli("list", "models", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["mlp-aae"]["plugin"] == "example"
    assert rows["mlp-aae"]["distribution"] == "genzoo-example-plugin"
    plugins = {row["name"]: row for row in json.loads(genzoo_cli("plugins", "--json").stdout)}
    assert plugins["example"]["status"] == "ok"


def test_disable_hides_it():
    result = genzoo_cli("list", "models", "--json", GENZOO_DISABLE_PLUGINS="genzoo-example-plugin")
    assert result.returncode == 0 and "mlp-aae" not in {row["name"] for row in json.loads(result.stdout)}
    plugins = {row["name"]: row for row in json.loads(genzoo_cli("plugins", "--json", GENZOO_DISABLE_PLUGINS="example").stdout)}
    assert plugins["example"]["status"] == "disabled"


def test_three_players_train_with_the_shared_trainer(tmp_path):
    config = RunConfig(model="mlp-aae", dataset="mnist5k", model_config={"hidden": 32},
                       train=TrainConfig(steps=3, batch_size=16, log_every=1, sample_every=0, checkpoint_every=0))
    result = train(config, tmp_path / "run")
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert {"autoencoder/loss", "code_critic/loss", "image_critic/loss"} <= set(lines[-1])
    assert all(torch.isfinite(torch.tensor(v)) for k, v in lines[-1].items() if "/" in k)
    model, meta = __import__("genzoo.checkpoint", fromlist=["load_model"]).load_model(result.model_path)
    assert meta["plugin"] == "example" and model.sample(4).shape == (4, 1, 28, 28)


def test_model_contract():
    from genzoo import testing

    assert "mlp-aae" in get_registry().names("model")
    testing.check_model_contract("mlp-aae", (1, 28, 28), {"hidden": 32})
    # every parameter of every player must move in one step (no dead weights)
    testing.check_training_step(testing.check_builds("mlp-aae", (1, 28, 28), {"hidden": 32}), require_all=True)
