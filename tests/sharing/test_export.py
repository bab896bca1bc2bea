"""`genzoo export`: the Hugging Face-style model folder and its model card."""

from __future__ import annotations

import json
import shlex

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from genzoo.checkpoint import read_metadata
from genzoo.errors import CheckpointError
from genzoo.hub import export_run
from genzoo.hub.card import reproduce_command

runner = CliRunner()

EVAL = {
    "checkpoint": "x", "model": "tiny-gan", "dataset": "tiny-blobs", "split": "test", "n_real": 50,
    "n_generated": 50, "seed": 0, "notes": {},
    "results": [
        {"metric": "mmd", "status": "ok", "value": 0.01234, "values": {"mmd": 0.01234}, "reason": "",
         "higher_is_better": False, "seconds": 0.1},
        {"metric": "elbo", "status": "n/a", "value": None, "values": {}, "reason": "no encoder",
         "higher_is_better": True, "seconds": 0.0},
    ],
}


def test_export_writes_model_config_card_and_samples(tiny_cli, run_dir, tmp_path):
    (run_dir / "eval.json").write_text(json.dumps(EVAL))
    out = tmp_path / "shared" / "tiny-model"
    result = runner.invoke(tiny_cli, ["export", str(run_dir), str(out), "--license", "cc-by-4.0"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "config.json", "eval.json", "model.safetensors", "samples.png"]
    assert (out / "model.safetensors").read_bytes() == (run_dir / "model.safetensors").read_bytes()
    assert read_metadata(out / "model.safetensors")["step"] == 3
    config = json.loads((out / "config.json").read_text())
    assert config["model"] == "tiny-gan" and config["dataset"] == "tiny-blobs" and config["data_shape"] == [1, 8, 8]
    assert config["training"]["train"]["steps"] == 3 and config["training"]["model_config"]["hidden"] == 8
    newest = sorted((run_dir / "samples").glob("*.png"))[-1]
    assert newest.name == "step-00000003.png"
    assert (out / "samples.png").read_bytes() == newest.read_bytes()
    card = (out / "README.md").read_text()
    assert card.startswith("---\nlicense: cc-by-4.0\nlibrary_name: genzoo\n")
    assert "genzoo sample ./tiny-model -n 64 -o grid.png" in card and str(tmp_path) not in card  # no exporter's path
    assert "| steps | 3 |" in card and "| batch size | 8 |" in card
    assert "| model config set apart from the defaults | `hidden=8` |" in card  # the run recorded every field
    assert "| mmd | 0.01234 | lower |" in card and "elbo" not in card  # only results that were computed
    assert "![samples from fixed noise](samples.png)" in card
    assert "Training data (tiny-blobs): CC0." in card
    assert "plugin `tiny` (genzoo-tiny 0.0.1)" in card


def test_the_hub_reads_pipeline_tag_dataset_id_and_scores_from_the_card(tiny_registry, run_dir, tmp_path):
    huggingface_hub = pytest.importorskip("huggingface_hub")
    (run_dir / "eval.json").write_text(json.dumps(EVAL))
    out = export_run(run_dir, tmp_path / "tiny-model", name="tiny-gan-blobs")
    card = huggingface_hub.ModelCard.load(out / "README.md")  # a local file: no network
    assert card.data.pipeline_tag == "unconditional-image-generation" and card.data.library_name == "genzoo"
    assert card.data.datasets == ["tiny-blobs-hub"]  # the data set's hub_id, not its genzoo name
    [result] = card.data.eval_results  # only computed results; elbo was n/a
    assert (result.task_type, result.dataset_type, result.dataset_split) == ("unconditional-image-generation", "tiny-blobs-hub", "test")
    assert (result.metric_type, result.metric_value) == ("mmd", 0.01234)
    assert card.data.model_name == "tiny-gan-blobs"


def test_card_without_eval_says_how_to_evaluate(tiny_registry, run_dir, tmp_path):
    out = export_run(run_dir, tmp_path / "m")
    card = (out / "README.md").read_text()
    assert "Not evaluated yet: `genzoo eval ./m`" in card
    assert not (out / "eval.json").exists()


def test_reproduce_command_in_the_card_trains_the_same_weights(tiny_cli, run_dir, tmp_path):
    run_config = json.loads((run_dir / "config.json").read_text())
    command = reproduce_command(run_config, out=str(tmp_path / "again"))
    args = shlex.split(command)
    assert args[:2] == ["genzoo", "run"] and args[args.index("--device") + 1] == "cpu"
    assert "train.sample_every=2" in args and "hidden=8" in args
    assert not [a for a in args if a.startswith(("latent_dim=", "critic_steps="))]  # defaults stay implicit
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the fixture trained with one thread; float sums depend on the split
    try:
        result = runner.invoke(tiny_cli, [*args[1:], "--no-progress"])
    finally:
        torch.set_num_threads(threads)
    assert result.exit_code == 0, result.output
    again = json.loads((tmp_path / "again" / "config.json").read_text())
    assert again == run_config
    original, retrained = load_file(str(run_dir / "model.safetensors")), load_file(str(tmp_path / "again" / "model.safetensors"))
    assert original.keys() == retrained.keys()
    assert all(torch.equal(original[k], retrained[k]) for k in original)


def test_export_refuses_a_non_empty_target_and_a_run_without_model(tiny_cli, run_dir, tmp_path):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    result = runner.invoke(tiny_cli, ["export", str(run_dir), str(taken)])
    assert result.exit_code == 1
    assert result.stderr.strip() == f"genzoo: error: {taken} already exists and is not empty; export into a new folder"
    assert [p.name for p in taken.iterdir()] == ["keep.txt"]
    (run_dir / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="holds no model.safetensors; has the run finished"):
        export_run(run_dir, tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_only_settings_that_differ_from_the_defaults_are_listed():
    from genzoo.hub.card import _diff

    resolved = {"lr": 1e-3, "betas": [0.5, 0.9], "net": {"width": 16, "depth": 2}, "new": 1}
    defaults = {"lr": 1e-3, "betas": [0.5, 0.99], "net": {"width": 32, "depth": 2}}
    assert _diff(resolved, defaults) == {"betas": [0.5, 0.9], "net": {"width": 16}, "new": 1}


def test_one_flag_convention_for_outputs_and_json(tiny_cli, run_dir, tmp_path):
    exported = runner.invoke(tiny_cli, ["export", str(run_dir), "-o", str(tmp_path / "m"), "--json"])
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.stdout) == {"source": str(run_dir), "folder": str(tmp_path / "m"),
                                           "files": ["README.md", "config.json", "model.safetensors", "samples.png"]}
    twice = runner.invoke(tiny_cli, ["export", str(run_dir), str(tmp_path / "a"), "-o", str(tmp_path / "b")])
    assert twice.exit_code == 1 and "given twice" in twice.stderr
    sampled = runner.invoke(tiny_cli, ["sample", str(run_dir), "-n", "3", "--out", str(tmp_path / "g.png"), "--json"])
    assert sampled.exit_code == 0, sampled.output
    assert json.loads(sampled.stdout)["grid"] == str(tmp_path / "g.png") and (tmp_path / "g.png").is_file()


def test_run_config_round_trip_and_a_folder_of_another_model(tiny_cli, run_dir, tmp_path):
    printed = runner.invoke(tiny_cli, ["run", "tiny-gan", "--config", str(run_dir / "config.json"), "--steps", "5",
                                       "--print-config"])
    assert printed.exit_code == 0, printed.output
    config = json.loads(printed.stdout)
    saved = json.loads((run_dir / "config.json").read_text())
    assert config["train"]["steps"] == 5 and config["model_config"] == saved["model_config"]
    assert {k: v for k, v in config["train"].items() if k != "steps"} == {k: v for k, v in saved["train"].items() if k != "steps"}
    assert not (tmp_path / "runs").exists()  # --print-config trains nothing
    other = runner.invoke(tiny_cli, ["run", "vae", "--out", str(run_dir)])
    assert other.exit_code == 1
    assert other.stderr.strip() == (f"genzoo: error: {run_dir} holds a run of tiny-gan, not vae: pass another --out, "
                                    f"or continue it with `genzoo run tiny-gan --resume {run_dir}`")


def test_tables_piped_to_a_file_are_not_cut_at_80_columns(tiny_cli):
    result = runner.invoke(tiny_cli, ["info", "train"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) > 100 and "…" not in result.stdout
    assert any("train.keep_last" in line and "Keep the newest K checkpoints" in line for line in lines)
