"""wgan-gp's latent regressor and fitted sampling prior: G and D train exactly as without it, the prior is
fitted to the regressor's codes, and checkpoints from before it load, sample N(0, I) and refuse a refit."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file

import genzoo
from genzoo.checkpoint import save_model
from genzoo.errors import ConfigError
from genzoo.registry import get_registry
from genzoo.runconfig import resolve_run_config
from genzoo.steps import build_optimizers, check_players, run_iteration

TINY = {"latent_dim": 3, "net": {"encoder_width": 4, "generator_width": 4, "discriminator_width": 4}}


def build(**config):
    return get_registry().build_model("wgan-gp", {**TINY, **config}, (1, 28, 28))


def train_steps(model, steps: int = 3) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    data = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1
    players, optimizers = check_players(model), build_optimizers(model)
    for step in range(steps):
        logged = run_iteration(model, players, optimizers, lambda: data, step=step)
    return logged


def test_the_regressor_leaves_generator_and_critic_updates_unchanged():
    torch.manual_seed(0)
    with_regressor = build()
    torch.manual_seed(0)
    plain = build(sampling_prior={"kind": "normal"})
    assert not hasattr(plain, "regressor") and not hasattr(plain, "sampling_prior")
    # the same initial generator and critic (the regressor is built after them) ...
    for name, tensor in plain.state_dict().items():
        assert torch.equal(tensor, with_regressor.state_dict()[name]), name
    logged = train_steps(with_regressor)
    train_steps(plain)
    # ... and after training, the same generator and critic: R's loss never reaches them
    for name, tensor in plain.state_dict().items():
        assert torch.equal(tensor, with_regressor.state_dict()[name]), name
    assert int(with_regressor.regressor.updates) == 3
    assert logged["generator/loss"] == pytest.approx(float(logged["generator/adversarial"] + logged["generator/latent_regression"]))
    generator_player = next(p for p in with_regressor.players() if p.name == "generator")
    assert generator_player.modules == ("generator", "regressor")


def test_the_prior_is_fitted_to_the_regressors_codes_of_the_training_images():
    model = build()
    train_steps(model, 2)
    model.eval()
    images = [torch.rand(16, 1, 28, 28) * 2 - 1 for _ in range(2)]
    model.fit_prior(images)
    assert model.sampling_prior.is_fitted
    with torch.no_grad():
        codes = torch.cat([model.regressor(x) for x in images])
    weighted_mean = (model.sampling_prior.weights[:, None] * model.sampling_prior.means).sum(0)
    assert torch.allclose(weighted_mean, codes.mean(0).float(), atol=1e-3)  # EM keeps the data's mean
    noise = torch.randn(5, 3)
    with torch.no_grad():
        assert torch.allclose(model.generate(noise), model.generator(model.sampling_prior.transform(noise)))


def test_training_publishes_the_regressor_and_a_fitted_prior(tmp_path):
    images = torch.rand(48, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    result = genzoo.train("wgan-gp", images, out=tmp_path / "run", steps=2, batch_size=8, device="cpu",
                          progress="none", sample_every=2, checkpoint_every=2, grid_size=4, config=TINY)
    saved = load_file(str(result.model_path))
    assert saved["sampling_prior.fitted"] == 1 and saved["regressor.updates"] == 2
    paper = get_registry().make_config(get_registry().get("model", "wgan-gp"),
                                       resolve_run_config(model="wgan-gp", preset="paper").model_config)
    assert paper.sampling_prior.kind == "normal" and paper.latent_dim == 128


def test_fit_prior_refits_from_the_trained_regressor_and_refuses_one_never_trained(tmp_path):
    from typer.testing import CliRunner

    from genzoo.cli import app

    run = genzoo.train("wgan-gp", "mnist5k", out=tmp_path / "run", steps=2, batch_size=8, device="cpu", progress="none",
                       sample_every=0, checkpoint_every=0, grid_size=4, config={**TINY, "sampling_prior": {"images": 64}})
    source = save_model(tmp_path / "run.safetensors", run.model, run.model.genzoo_meta)  # a file, as a user has
    runner = CliRunner()
    refit = runner.invoke(app, ["fit-prior", str(source), "--out", str(tmp_path / "refit.safetensors"),
                                "--set", "sampling_prior.components=3"])
    assert refit.exit_code == 0, refit.output
    again = genzoo.load(tmp_path / "refit.safetensors")
    assert again.sampling_prior.weights.shape == (3,) and int(again.regressor.updates) == 2
    for key, tensor in load_file(str(source)).items():  # the regressor (and everything but the prior) is the file's
        if not key.startswith("sampling_prior."):
            assert torch.equal(tensor, again.state_dict()[key]), key
    untrained = build()
    save_model(tmp_path / "untrained.safetensors", untrained, run.model.genzoo_meta)
    refused = runner.invoke(app, ["fit-prior", str(tmp_path / "untrained.safetensors"), "--out", str(tmp_path / "x.safetensors")])
    assert refused.exit_code != 0 and "no trained latent regressor" in refused.output
    assert not (tmp_path / "x.safetensors").exists()


def test_a_checkpoint_from_before_the_regressor_samples_n01_and_refuses_a_refit(tmp_path):
    images = torch.rand(48, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    result = genzoo.train("wgan-gp", images, out=tmp_path / "run", steps=2, batch_size=8, device="cpu",
                          progress="none", sample_every=0, checkpoint_every=0, grid_size=4, config=TINY)
    meta = dict(result.model.genzoo_meta)
    state = {k: v for k, v in result.model.state_dict().items()
             if not k.startswith(("sampling_prior.", "regressor."))}  # what an older genzoo wrote

    class Old(torch.nn.Module):
        def state_dict(self, *args, **kwargs):
            return state

    old = save_model(tmp_path / "old.safetensors", Old(), meta)
    model = genzoo.load(old)
    assert not model.sampling_prior.is_fitted and int(model.regressor.updates) == 0
    noise = torch.randn(4, 3)
    with torch.no_grad():
        assert torch.equal(model.generate(noise), model.generator(noise))
    with pytest.raises(ConfigError, match="no trained latent regressor"):
        model.fit_prior([images[:8]])


def test_several_draws_per_image_are_refused_for_the_regressors_deterministic_codes():
    with pytest.raises(ConfigError, match="sampling_prior.draws=1"):
        build(sampling_prior={"draws": 4})
