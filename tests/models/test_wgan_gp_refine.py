"""wgan-gp's sampling refinement: with the cluster critic live, codes climb D(G(z) | k) before G draws them."""

from __future__ import annotations

import pytest
import torch

from genzoo.errors import ConfigError
from genzoo.registry import get_registry
from genzoo.runconfig import resolve_run_config
from genzoo.steps import build_optimizers, check_players, run_iteration
from genzoo_models.wgan_gp import _ClusterCritic

TINY = {"latent_dim": 3, "net": {"encoder_width": 4, "generator_width": 4, "discriminator_width": 4}}


def trained(**config):
    """A tiny wgan-gp after a few steps and a prior fit, its projection set so that D(x | k) differs from D(x)."""
    torch.manual_seed(0)
    model = get_registry().build_model("wgan-gp", {**TINY, "sampling_prior": {"components": 2}, **config}, (1, 28, 28))
    data = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1
    players, optimizers = check_players(model), build_optimizers(model)
    for step in range(2):
        run_iteration(model, players, optimizers, lambda: data, step=step)
    model.eval()
    model.fit_prior([data])
    if hasattr(model, "cluster_projection"):  # a first fit zeroes it; give each component its own direction
        weight = model.cluster_projection.embedding.weight
        weight.data.copy_(torch.randn(weight.shape, generator=torch.Generator().manual_seed(3)))
    return model


def scores(model, noise: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    labels, _ = model.sampling_prior.split(noise)
    return _ClusterCritic(model.critic, model.cluster_projection, labels)(images).squeeze(1)


def plain(model, noise: torch.Tensor) -> torch.Tensor:
    return model.generator(model.sampling_prior.transform(noise))


def test_one_step_is_g_of_the_code_moved_up_the_cluster_critics_score():
    model = trained(refine_steps=1, refine_step=0.25)
    noise = torch.randn(6, 3, generator=torch.Generator().manual_seed(2))
    z = model.sampling_prior.transform(noise).clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(scores(model, noise, model.generator(z)).sum(), z)
    with torch.no_grad():
        expected = model.generator(z.detach() + 0.25 * grad)
        assert torch.allclose(model.generate(noise), expected, atol=1e-6)
        model.config.refine_steps = 0
        assert torch.equal(model.generate(noise), plain(model, noise))


def test_refinement_raises_the_critic_score_and_changes_nothing_else():
    model = trained(refine_steps=5, refine_step=1e-3)
    noise = torch.randn(32, 3, generator=torch.Generator().manual_seed(2))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        refined = model.generate(noise)
        gain = scores(model, noise, refined) - scores(model, noise, plain(model, noise))
        assert torch.equal(refined, model.generate(noise))  # no randomness of its own
    assert gain.mean() > 0 and (gain > 0).float().mean() > 0.8  # small steps up the score
    assert not refined.requires_grad
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name]), name


def test_in_training_mode_only_the_final_draw_moves_batch_norm_statistics():
    statistics = {}
    for steps in (0, 3):
        model = trained(refine_steps=steps)
        model.train()
        with torch.no_grad():
            model.generate(torch.randn(8, 3, generator=torch.Generator().manual_seed(4)))
        assert model.generator.training
        statistics[steps] = {k: v for k, v in model.generator.state_dict().items() if "num_batches_tracked" in k}
    counts = {k: v for k, v in statistics[3].items() if k.endswith("num_batches_tracked")}
    # the refinement's forward passes run in eval mode: only the final draw counts, as without refinement
    assert counts and all(int(v) == int(statistics[0][k]) for k, v in counts.items())


def test_models_without_the_cluster_critic_draw_as_trained():
    for config in ({"cluster_critic": False}, {"sampling_prior": {"kind": "normal"}}):
        model = trained(refine_steps=5, **config)
        noise = torch.randn(4, 3, generator=torch.Generator().manual_seed(2))
        prior = getattr(model, "sampling_prior", None)
        with torch.no_grad():
            assert torch.equal(model.generate(noise), model.generator(noise if prior is None else prior.transform(noise)))


def test_refinement_works_in_inference_mode_and_leaves_no_gradients():
    model = trained(refine_steps=3)
    noise = torch.randn(4, 3, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = model.generate(noise)
    for p in model.parameters():
        p.grad = None
    with torch.inference_mode():
        assert torch.allclose(model.generate(noise), expected)
    assert all(p.grad is None for p in model.parameters())


def test_refinement_settings_are_checked_and_the_paper_preset_samples_plainly():
    registry = get_registry()
    bad = ({"refine_steps": -1}, {"refine_steps": 1.5}, {"refine_step": 0.0}, {"refine_step": float("nan")},
           {"refine_step": float("inf")})
    for settings in bad:
        with pytest.raises(ConfigError, match="refine_step"):
            registry.build_model("wgan-gp", {**TINY, **settings}, (1, 28, 28))
    paper = registry.make_config(registry.get("model", "wgan-gp"),
                                 resolve_run_config(model="wgan-gp", preset="paper").model_config)
    assert paper.refine_steps == 0


def test_codes_refined_a_few_at_a_time_match_the_whole_draw_refined_at_once(monkeypatch):
    import genzoo_models.wgan_gp as wgan_gp

    model = trained(refine_steps=3, refine_step=0.1)
    noise = torch.randn(10, 3, generator=torch.Generator().manual_seed(6))
    drawn = {}
    for size in (1000, 4):  # one batch, and batches of 4, 4 and 2 with their own labels
        monkeypatch.setattr(wgan_gp, "REFINE_BATCH", size)
        with torch.inference_mode():
            drawn[size] = model.generate(noise)
    assert torch.allclose(drawn[4], drawn[1000], atol=1e-5)
    assert not torch.allclose(drawn[4], plain(model, noise), atol=1e-4)
