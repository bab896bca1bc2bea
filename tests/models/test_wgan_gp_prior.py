"""wgan-gp's latent regressor, fitted sampling prior and cluster critic: until the prior is fitted G and D train
exactly as without R, the prior is fitted to the regressor's codes, the critic then scores images as members of
their components, and checkpoints from before these load, sample N(0, I) and refuse a refit."""

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
    model.config.refine_steps = 0  # samples are G of the prior's code (the refinement: test_wgan_gp_refine.py)
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
    # the cluster critic's projection was keyed on the old components: it starts again at zero, sized for 3
    assert again.cluster_projection.embedding.weight.shape[0] == 3
    assert not again.cluster_projection.embedding.weight.any()
    for key, tensor in load_file(str(source)).items():  # the regressor (and everything but the prior) is the file's
        if not key.startswith(("sampling_prior.", "cluster_projection.")):
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
             if not k.startswith(("sampling_prior.", "regressor.", "cluster_projection."))}  # what an older genzoo wrote

    class Old(torch.nn.Module):
        def state_dict(self, *args, **kwargs):
            return state

    old = save_model(tmp_path / "old.safetensors", Old(), meta)
    model = genzoo.load(old)
    assert not model.sampling_prior.is_fitted and int(model.regressor.updates) == 0
    noise = torch.randn(4, 3)
    model.config.refine_steps = 0  # (the refinement, which such files also get by default: test_wgan_gp_refine.py)
    with torch.no_grad():
        assert torch.equal(model.generate(noise), model.generator(noise))
    with pytest.raises(ConfigError, match="no trained latent regressor"):
        model.fit_prior([images[:8]])


def test_several_draws_per_image_are_refused_for_the_regressors_deterministic_codes():
    with pytest.raises(ConfigError, match="sampling_prior.draws=1"):
        build(sampling_prior={"draws": 4})


class FixedCodes(torch.nn.Module):
    """A stand-in regressor: image i's code is ``codes[i]`` (the tests below choose its component)."""

    def __init__(self, codes: torch.Tensor) -> None:
        super().__init__()
        self.codes = codes
        self.register_buffer("updates", torch.ones((), dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.codes[: x.shape[0]].to(x.dtype)


def separated_prior(model, components: int = 4) -> torch.Tensor:
    """Give ``model`` a fitted mixture whose components sit 100 apart; returns their means."""
    prior = model.sampling_prior
    means = torch.zeros(prior.means.shape)
    means[:components, 0] = 100.0 * torch.arange(components)
    prior.means.copy_(means)
    prior.weights.zero_()[:components] = 1.0 / components
    prior.fitted.fill_(1.0)
    return means[:components]


def generator_step_codes(model, seed: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    """The code the generator step fed G, and the N(0, I) noise it drew it from (same seed)."""
    codes = recorded_codes(model)
    batch = torch.rand(8, 1, 28, 28) * 2 - 1
    torch.manual_seed(seed)
    model.loss("generator", batch)
    torch.manual_seed(seed)
    return codes[0], torch.randn(8, model.config.latent_dim)


def recorded_codes(model):
    codes = []
    model.generator.register_forward_pre_hook(lambda module, args: codes.append(args[0].detach().clone()))
    return codes


def test_the_critic_scores_membership_of_a_component_by_projection():
    from genzoo_models.wgan_gp import _ClusterCritic

    model = build(sampling_prior={"components": 4})
    assert model.prior_warm_start and "cluster_projection" in next(p for p in model.players() if p.name == "critic").modules
    x, labels = torch.rand(6, 1, 28, 28), torch.tensor([0, 1, 2, 3, 0, 1])
    critic = _ClusterCritic(model.critic, model.cluster_projection, labels)
    with torch.no_grad():
        assert torch.equal(critic(x), model.critic(x))  # e_k starts at zero: the critic starts unconditional
        model.cluster_projection.embedding.weight.normal_()
        features = model.critic.features(x).flatten(1)
        expected = model.critic(x) + (model.cluster_projection.embedding.weight[labels] * features).sum(1, keepdim=True)
        assert torch.allclose(critic(x), expected, atol=1e-5)
        # a batch of real and fake images scored in one call repeats the labels
        assert torch.allclose(critic(torch.cat([x, x]))[6:], expected, atol=1e-5)


def test_each_fake_in_a_critic_step_comes_from_its_real_partners_component():
    model = build(sampling_prior={"components": 4})
    means = separated_prior(model)
    labels = torch.tensor([3, 0, 2, 2, 1, 0, 3, 1])
    model.regressor = FixedCodes(means[labels])
    codes = recorded_codes(model)
    model.loss("critic", torch.rand(8, 1, 28, 28) * 2 - 1)
    assert torch.equal(model.sampling_prior.assign(codes[0]), labels)
    assert model.regressor.training  # R was put back in training mode after labelling in eval mode


def test_the_generator_trains_on_the_mixtures_codes_once_fitted():
    model = build(sampling_prior={"components": 4})
    separated_prior(model)
    code, noise = generator_step_codes(model)
    assert torch.allclose(code, model.sampling_prior.transform(noise))
    plain = build(sampling_prior={"components": 4}, cluster_critic=False)  # trains on N(0, I) as published
    separated_prior(plain)
    code, noise = generator_step_codes(plain)
    assert torch.equal(code, noise) and not hasattr(plain, "cluster_projection") and not plain.prior_warm_start


def test_a_run_trains_the_cluster_critic_after_the_first_fit_and_publishes_it(tmp_path):
    images = torch.rand(48, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    result = genzoo.train("wgan-gp", images, out=tmp_path / "run", steps=4, batch_size=8, device="cpu",
                          progress="none", sample_every=0, checkpoint_every=2, grid_size=4,
                          config={**TINY, "sampling_prior": {"components": 3}})
    saved = load_file(str(result.model_path))
    assert saved["cluster_projection.embedding.weight"].shape == (3, TINY["net"]["discriminator_width"] * 2 * 7 * 7)
    assert saved["cluster_projection.embedding.weight"].abs().sum() > 0  # steps 3-4 trained it
    paper = get_registry().make_config(get_registry().get("model", "wgan-gp"),
                                       resolve_run_config(model="wgan-gp", preset="paper").model_config)
    assert not paper.cluster_critic


def test_without_the_cluster_critic_g_and_d_train_as_without_r_after_the_fit_too():
    torch.manual_seed(0)
    with_regressor = build(cluster_critic=False)
    torch.manual_seed(0)
    plain = build(sampling_prior={"kind": "normal"})
    data = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1
    runs = []
    for model in (with_regressor, plain):
        torch.manual_seed(0)
        players, optimizers = check_players(model), build_optimizers(model)
        for step in range(4):
            if step == 2 and hasattr(model, "regressor"):  # what a checkpoint does between steps 2 and 3
                model.eval()
                model.fit_prior([data])
                model.train()
            run_iteration(model, players, optimizers, lambda: data, step=step)
        runs.append(model.state_dict())
    assert with_regressor.sampling_prior.is_fitted
    for name, tensor in runs[1].items():
        assert torch.equal(tensor, runs[0][name]), name


def test_the_labels_follow_real_and_fake_halves_that_differ():
    from genzoo_models.wgan_gp import _ClusterCritic

    model = build(sampling_prior={"components": 4})
    with torch.no_grad():
        model.cluster_projection.embedding.weight.normal_()
    real, fake, labels = torch.rand(3, 1, 28, 28), torch.rand(3, 1, 28, 28) * 2 - 1, torch.tensor([2, 0, 3])
    critic = _ClusterCritic(model.critic, model.cluster_projection, labels)
    with torch.no_grad():
        both = critic(torch.cat([real, fake]))
        assert torch.allclose(both[:3], critic(real), atol=1e-5) and torch.allclose(both[3:], critic(fake), atol=1e-5)
    with pytest.raises(genzoo.GenzooError, match="whole copies"):
        critic(torch.rand(4, 1, 28, 28))


def test_a_refit_that_cannot_keep_the_components_resets_the_projection():
    model = build(sampling_prior={"components": 4})
    train_steps(model, 1)
    model.eval()
    model.fit_prior([torch.rand(16, 1, 28, 28) * 2 - 1])
    assert not model.sampling_prior.warm_started  # the first fit is a cold one
    with torch.no_grad():
        model.cluster_projection.embedding.weight.fill_(1.0)
    model.fit_prior([torch.rand(16, 1, 28, 28) * 2 - 1])
    assert model.sampling_prior.warm_started and model.cluster_projection.embedding.weight.eq(1.0).all()
    model.fit_prior([torch.rand(3, 1, 28, 28) * 2 - 1])  # fewer codes than components: a cold fit
    assert not model.sampling_prior.warm_started and not model.cluster_projection.embedding.weight.any()


def test_training_draws_at_temperature_one_whatever_sampling_uses():
    model = build(sampling_prior={"components": 4, "temperature": 0.5})
    separated_prior(model)
    code, noise = generator_step_codes(model)
    labels, fresh = model.sampling_prior.split(noise)
    assert torch.allclose(code, model.sampling_prior.draw(labels, fresh, temperature=1.0).float())
    assert not torch.allclose(code, model.sampling_prior.draw(labels, fresh).float())


def test_resume_across_the_first_fit_is_exact(tmp_path):
    images = torch.rand(48, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    options = dict(batch_size=8, device="cpu", progress="none", sample_every=0, checkpoint_every=2, grid_size=4,
                   config={**TINY, "sampling_prior": {"components": 3}})
    whole = genzoo.train("wgan-gp", images, out=tmp_path / "whole", steps=6, **options)
    genzoo.train("wgan-gp", images, out=tmp_path / "part", steps=3, **options)
    resumed = genzoo.train("wgan-gp", images, out=tmp_path / "part", steps=6, **options)  # resumes from step 3
    a, b = load_file(str(whole.model_path)), load_file(str(resumed.model_path))
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
