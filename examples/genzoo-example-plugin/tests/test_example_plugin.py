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


# --- one component of every other kind ---------------------------------------------------------
SMALL_WGAN = {"latent_dim": 4, "critic_steps": 1,
              "net": {"generator_width": 4, "discriminator_width": 4}, "loss": {"adversarial": "least-squares"}}


def test_loss_follows_the_adversarial_contract_and_a_first_party_model_composes_it():
    from genzoo import testing
    from genzoo_example_loss import LeastSquares, LeastSquaresConfig

    testing.check_loss_contract("least-squares")
    loss = LeastSquares(LeastSquaresConfig())
    critic = lambda x: (x.flatten(1)[:, 0] > 5).float()  # noqa: E731  (1 on the real 9s, 0 on the fake 0s)
    perfect = loss.discriminator_loss(critic, torch.full((3, 1, 2, 2), 9.0), torch.zeros(3, 1, 2, 2))
    assert float(perfect["loss"]) == 0.0  # real scored 1, fake scored 0: nothing left to learn
    assert float(loss.generator_loss(torch.zeros(3))) == 0.5
    model = testing.check_model_contract("wgan-gp", (1, 28, 28), SMALL_WGAN)
    providers = {c["name"]: c["plugin"] for c in model.genzoo_components}
    assert providers["least-squares"] == "example"


def test_command_exports_pngs_that_the_data_set_reads(tmp_path):
    from genzoo import testing

    result = genzoo_cli("data", "export-png", "mnist5k", str(tmp_path / "pngs"), "-n", "20")
    assert result.returncode == 0, result.stderr
    assert "wrote 20 images of mnist5k/train" in result.stdout
    assert len(list((tmp_path / "pngs").glob("image-*.png"))) == 20
    splits = testing.check_dataset_contract("png-folder", data_dir=tmp_path / "pngs")
    assert (len(splits["train"]), len(splits["test"])) == (18, 2)
    digits = get_registry().build_dataset("mnist5k", None, "train")
    assert torch.allclose(splits["train"][0], digits[0], atol=1 / 127.5)  # PNG keeps 8 bits per pixel
    bad = genzoo_cli("data", "export-png", "mnist5k", str(tmp_path / "none"), "-n", "0")
    assert bad.returncode == 1 and "-n must be at least 1" in bad.stderr and "Traceback" not in bad.stderr


def test_data_set_without_a_folder_is_one_line(tmp_path):
    result = genzoo_cli("run", "mlp-aae", "--dataset", "png-folder", "--data-dir", str(tmp_path / "missing"))
    assert result.returncode == 1
    assert "png-folder needs --data-dir FOLDER with *.png files" in result.stderr and "Traceback" not in result.stderr


def test_metric_follows_the_result_convention_with_known_values():
    from genzoo import testing
    from genzoo.evaluation import EvalContext, evaluate

    result = testing.check_metric_contract("pixel-histogram", n=16)
    assert 0 <= result.value <= 1
    black, white = torch.full((4, 1, 8, 8), -1.0), torch.ones(4, 1, 8, 8)
    (same,) = evaluate(EvalContext(None, black, generated=black.clone(), reference=black), ["pixel-histogram"])
    (apart,) = evaluate(EvalContext(None, black, generated=white), ["pixel-histogram"])
    assert same.values == {"pixel-histogram": 0.0, "pixel-histogram.real": 0.0} and apart.value == 1.0


def test_every_worked_page_shows_the_example_files_verbatim():
    import re
    from pathlib import Path

    here = Path(__file__).resolve().parents[1]
    pages = sorted((here.parents[1] / "docs" / "plugins").glob("*.md"))
    assert {p.stem for p in pages} == {"model", "loss", "dataset", "metric", "command"}
    for page in pages:
        text = page.read_text()
        shown = re.findall(r"<!-- file: (\S+) -->\n```\w*\n(.*?)```\n", text, re.S)
        assert shown, f"{page.name} shows no example file"
        for name, body in shown:
            assert body == (here / name).read_text(), f"{page.name}: {name} differs from the example plugin's file"


def test_every_worked_page_registers_and_tests_as_the_example_does():
    """The "Registering it" snippets are the example's hook code and every contract check of "Testing
    it" is one this file runs on the same component, so neither can drift from what CI runs."""
    import re
    from pathlib import Path

    here = Path(__file__).resolve().parents[1]
    hooks = (here / "genzoo_example.py").read_text()
    tests = Path(__file__).read_text()
    for page in sorted((here.parents[1] / "docs" / "plugins").glob("*.md")):
        sections = dict(re.findall(r"\n## ([^\n]+)\n(.*?)(?=\n## |\Z)", page.read_text(), re.S))
        for block in re.findall(r"```python\n(.*?)```", sections.get("Registering it", ""), re.S):
            assert block in hooks, f"{page.name}: its registration snippet is not in genzoo_example.py"
        testing_section = sections.get("Testing it", "")
        calls = re.findall(r"testing\.check_\w+\(\"[\w-]+\"", testing_section)
        # a command has no contract check: its page runs the command line this file runs
        calls += re.findall(r'"genzoo", ((?:"[\w-]+", )*"[\w-]+")', testing_section)
        assert calls, f"{page.name}: its Testing section checks nothing this file runs"
        for call in calls:
            assert call in tests, f"{page.name}: {call}...) is not a check the example's tests run"
