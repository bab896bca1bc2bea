"""wgan-gp's sampling refinement: codes climb the critic's score before G draws them (sampling only)."""

from __future__ import annotations

import pytest
import torch

from genzoo.errors import ConfigError
from genzoo.registry import get_registry
from genzoo.runconfig import resolve_run_config
from genzoo.steps import build_optimizers, check_players, run_iteration

TINY = {"latent_dim": 3, "net": {"encoder_width": 4, "generator_width": 4, "discriminator_width": 4}}


def trained(**config):
    """A tiny wgan-gp after a few steps and a prior fit, so the cluster critic is live."""
    torch.manual_seed(0)
    model = get_registry().build_model("wgan-gp", {**TINY, "sampling_prior": {"components": 2}, **config}, (1, 28, 28))
    data = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1
    players, optimizers = check_players(model), build_optimizers(model)
    for step in range(2):
        run_iteration(model, players, optimizers, lambda: data, step=step)
    model.eval()
    model.fit_prior([data])
    return model


def critic_scores(model, noise: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    from genzoo_models.wgan_gp import _ClusterCritic

    labels, _ = model.sampling_prior.split(noise)
    return _ClusterCritic(model.critic, model.cluster_projection, labels)(images).squeeze(1)


def test_without_refinement_samples_are_g_of_the_prior_code():
    model = trained(refine_steps=0)
    noise = torch.randn(6, 3, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert torch.equal(model.generate(noise), model.generator(model.sampling_prior.transform(noise)))


def test_refinement_raises_the_critic_score_and_changes_nothing_else():
    model = trained(refine_steps=5, refine_step=1e-3)
    noise = torch.randn(32, 3, generator=torch.Generator().manual_seed(2))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        plain = model.generator(model.sampling_prior.transform(noise))
        refined = model.generate(noise)
        again = model.generate(noise)
        gain = critic_scores(model, noise, refined) - critic_scores(model, noise, plain)
    assert torch.equal(refined, again)  # no randomness of its own
    assert not torch.equal(refined, plain)
    assert gain.mean() > 0 and (gain > 0).float().mean() > 0.8  # small steps up the score
    assert not refined.requires_grad
    for name, value in model.state_dict().items():  # weights and batch-norm statistics untouched
        assert torch.equal(value, before[name]), name


def test_without_the_cluster_critic_codes_climb_the_plain_critic():
    model = trained(refine_steps=5, refine_step=1e-3, cluster_critic=False)
    noise = torch.randn(32, 3, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        plain = model.generator(model.sampling_prior.transform(noise))
        gain = model.critic(model.generate(noise)).squeeze(1) - model.critic(plain).squeeze(1)
    assert gain.mean() > 0 and (gain > 0).float().mean() > 0.8


def test_refinement_leaves_no_gradients_on_the_weights():
    model = trained(refine_steps=3)
    for p in model.parameters():
        p.grad = None
    with torch.no_grad():
        model.generate(torch.randn(4, 3))
    assert all(p.grad is None for p in model.parameters())


def test_refinement_settings_are_checked_and_the_paper_preset_samples_plainly():
    registry = get_registry()
    for bad in ({"refine_steps": -1}, {"refine_steps": 1.5}, {"refine_step": 0.0}, {"refine_step": float("nan")}):
        with pytest.raises(ConfigError, match="refine_step"):
            registry.build_model("wgan-gp", {**TINY, **bad}, (1, 28, 28))
    paper = registry.make_config(registry.get("model", "wgan-gp"),
                                 resolve_run_config(model="wgan-gp", preset="paper").model_config)
    assert paper.refine_steps == 0
