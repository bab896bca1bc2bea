"""Sampling settings changed at load time: `genzoo sample --set`, `genzoo eval --model-set`, `genzoo.load(overrides=)`.

wgan-gp's critic-refined sampling is the case users ask for: `refine_steps=0` draws G(z) as trained."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

import genzoo
from genzoo.cli import app
from genzoo.errors import CheckpointError, ConfigError

TINY = {"latent_dim": 3, "net": {"encoder_width": 4, "generator_width": 4, "discriminator_width": 4},
        "sampling_prior": {"components": 2, "images": 64}}  # fmt: skip


@pytest.fixture(scope="module")
def refined_run(tmp_path_factory):
    """A tiny wgan-gp run whose final checkpoint has its prior fitted and the cluster critic live."""
    out = tmp_path_factory.mktemp("wgan") / "run"
    genzoo.train("wgan-gp", "mnist5k", out=out, steps=2, batch_size=8, device="cpu", progress="none", log_every=1,
                 sample_every=0, checkpoint_every=0, grid_size=4, config=TINY)  # fmt: skip
    model = genzoo.load(out)
    assert model.config.refine_steps > 0 and model.sampling_prior.is_fitted and hasattr(model, "cluster_projection")
    # a first fit zeroes the component vectors; give each its own direction so that refinement moves codes
    weight = model.cluster_projection.embedding.weight
    weight.data.copy_(torch.randn(weight.shape, generator=torch.Generator().manual_seed(3)))
    from genzoo.checkpoint import save_model

    save_model(out / "model.safetensors", model, model.genzoo_meta)
    return out


def plain(model, n: int, seed: int) -> torch.Tensor:
    with torch.no_grad():
        noise = model.sample_noise(n, torch.Generator().manual_seed(seed))
        return model.generator(model.sampling_prior.transform(noise)).float()


def test_load_with_refine_steps_0_draws_g_of_the_prior_code(refined_run):
    shipped, asked = genzoo.load(refined_run), genzoo.load(refined_run, overrides="refine_steps=0")
    assert asked.config.refine_steps == 0 and shipped.config.refine_steps == 10
    assert asked.genzoo_meta["config"]["refine_steps"] == 0
    assert asked.genzoo_meta["overrides"] == ["refine_steps=0"] and "overrides" not in shipped.genzoo_meta
    assert torch.allclose(genzoo.sample(asked, 8, seed=5), plain(asked, 8, seed=5), atol=1e-6)
    assert not torch.allclose(genzoo.sample(shipped, 8, seed=5), genzoo.sample(asked, 8, seed=5), atol=1e-4)


def test_only_sampling_settings_may_change_and_a_bad_value_is_one_line(refined_run):
    # a training setting would change nothing when sampling, and latent_dim would not fit the weights
    for key in ("critic_lr", "latent_dim", "model.refine_steps", "refine_stepz", "sampling_prior.components"):
        with pytest.raises(ConfigError, match=f"'{key}' is not a sampling setting of wgan-gp .*refine_steps"):
            genzoo.load(refined_run, overrides=[f"{key}=7"])
    with pytest.raises(ConfigError, match="refine_steps must be an integer >= 0"):
        genzoo.load(refined_run, overrides=["refine_steps=-1"])
    cooler = genzoo.load(refined_run, overrides=["sampling_prior.temperature=0.5", "refine_step=0.01"])
    assert cooler.config.sampling_prior.temperature == 0.5 and cooler.config.refine_step == 0.01


def test_fit_prior_still_takes_the_settings_of_the_fit(refined_run, tmp_path):
    # fit-prior's --set (the prior's size and fit) is not limited to sampling settings; the new file keeps them
    out = tmp_path / "refit.safetensors"
    result = CliRunner().invoke(app, ["fit-prior", str(refined_run), "-o", str(out), "--set", "sampling_prior.components=3"])
    assert result.exit_code == 0, result.output
    refit = genzoo.load(out)
    assert refit.config.sampling_prior.components == 3 and "overrides" not in refit.genzoo_meta


def test_sample_set_changes_the_draw(refined_run, tmp_path):
    runner = CliRunner()
    folders = {}
    for name, extra in (("shipped", []), ("plain", ["--set", "refine_steps=0"])):
        folders[name] = tmp_path / name
        result = runner.invoke(app, ["sample", str(refined_run), "-n", "4", "-o", str(tmp_path / f"{name}.png"),
                                     "--out-dir", str(folders[name]), *extra])  # fmt: skip
        assert result.exit_code == 0, result.output
    from safetensors.torch import load_file

    drawn = {name: load_file(str(folder / "samples.safetensors")) for name, folder in folders.items()}
    key = next(iter(drawn["plain"]))
    assert not torch.equal(drawn["plain"][key], drawn["shipped"][key])
    bad = runner.invoke(app, ["sample", str(refined_run), "--set", "critic_lr=0.5", "-o", str(tmp_path / "x.png")])
    assert bad.exit_code == 1 and len(bad.stderr.strip().splitlines()) == 1
    assert "'critic_lr' is not a sampling setting of wgan-gp" in bad.stderr and not (tmp_path / "x.png").exists()
    told = runner.invoke(app, ["sample", str(refined_run), "-n", "2", "-o", str(tmp_path / "y.png"),
                               "--set", "refine_steps=0", "--json"])  # fmt: skip
    assert told.exit_code == 0 and json.loads(told.stdout)["overrides"] == ["refine_steps=0"]


def test_eval_model_set_is_reported_and_not_written_into_the_run(refined_run):
    runner = CliRunner()
    (refined_run / "eval.json").unlink(missing_ok=True)
    result = runner.invoke(app, ["eval", str(refined_run), "-m", "sharpness", "-n", "16", "--device", "cpu",
                                 "--model-set", "refine_steps=0", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    plain_scores = json.loads(result.stdout)
    assert plain_scores["model_overrides"] == ["refine_steps=0"]
    assert "not written into the run" in result.stderr and not (refined_run / "eval.json").exists()
    shipped = runner.invoke(app, ["eval", str(refined_run), "-m", "sharpness", "-n", "16", "--device", "cpu", "--json"])
    assert shipped.exit_code == 0, shipped.output
    written = json.loads((refined_run / "eval.json").read_text())
    assert written["model_overrides"] == []
    # the setting reached the samples: the scores of G(z) as trained are not those of the refined draw
    assert plain_scores["results"][0]["values"] != written["results"][0]["values"]


def test_a_card_refuses_scores_of_changed_settings(refined_run, tmp_path):
    from genzoo.hub.card import read_eval

    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "eval.json").write_text(json.dumps({"results": [], "model_overrides": ["refine_steps=0"]}))
    with pytest.raises(CheckpointError, match="changed settings \\(refine_steps=0\\), not the file as shipped"):
        read_eval(folder)
