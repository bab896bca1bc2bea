"""Loss plugins: registration, exact values against closed forms and torch.distributions."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import distributions as D

from genzoo.errors import GenzooError
from genzoo.registry import get_registry
from genzoo.testing import check_loss_contract
from genzoo_losses.adversarial import gradient_penalty

ROLES = {
    "wasserstein-gp": "adversarial",
    "non-saturating": "adversarial",
    "hinge": "adversarial",
    "l1": "reconstruction",
    "gaussian": "reconstruction",
    "bernoulli": "reconstruction",
    "kl-normal": "divergence",
    "code-discriminator": "code",
}


def build(name: str, **config):
    return get_registry().build_loss(name, config or None)


@pytest.mark.parametrize("name", sorted(ROLES))
def test_registered_with_role_and_contract(name: str) -> None:
    assert get_registry().get("loss", name).role == ROLES[name]
    assert check_loss_contract(name) is not None


def linear_critic(weight: torch.Tensor):
    return lambda x: x.flatten(1) @ weight.flatten()


def test_gradient_penalty_of_linear_critic_is_exact_for_2d_and_3d() -> None:
    torch.manual_seed(0)
    w = torch.randn(1, 4, 4, 4)
    expected = (w.norm() - 1) ** 2
    real3d, fake3d = torch.randn(5, 1, 4, 4, 4), torch.randn(5, 1, 4, 4, 4)
    real2d, fake2d = real3d.view(5, 1, 8, 8), fake3d.view(5, 1, 8, 8)
    gp3d = gradient_penalty(linear_critic(w), real3d, fake3d)
    gp2d = gradient_penalty(linear_critic(w.view(1, 8, 8)), real2d, fake2d)
    assert torch.allclose(gp3d, expected) and torch.allclose(gp2d, expected)


def test_gradient_penalty_uses_the_flattened_per_sample_norm() -> None:
    # D(x) = 0.5 * ||x||^2 has gradient x; with real == fake the interpolate is x itself, so the
    # penalty is mean_i (||x_i|| - 1)^2, not a per-voxel norm over the channel axis (Kwon's bug).
    x = torch.randn(3, 1, 2, 3, 4)
    gp = gradient_penalty(lambda t: 0.5 * t.flatten(1).pow(2).sum(1), x, x.clone())
    expected = (x.flatten(1).norm(dim=1) - 1).pow(2).mean()
    channel_axis_norm = (x.norm(dim=1) - 1).pow(2).mean()
    assert torch.allclose(gp, expected, atol=1e-6)
    assert not torch.allclose(gp, channel_axis_norm)


def test_gradient_penalty_draws_one_weight_per_sample() -> None:
    # With D(x) = 0.5||x||^2, real = 0 and fake = f, the interpolate is (1-eps) f: its norm
    # reveals eps. All elements of one sample must share it.
    seen = []

    def critic(t: torch.Tensor) -> torch.Tensor:
        seen.append(t.detach().clone())
        return 0.5 * t.flatten(1).pow(2).sum(1)

    fake = torch.ones(4, 2, 3, 3)
    gradient_penalty(critic, torch.zeros_like(fake), fake)
    mixed = seen[0]
    per_sample = mixed.flatten(1)
    assert torch.allclose(per_sample, per_sample[:, :1].expand_as(per_sample))
    assert per_sample[:, 0].unique().numel() == 4


def test_gradient_penalty_runs_in_fp32_under_autocast() -> None:
    torch.manual_seed(1)
    w = torch.randn(1, 6, 6)
    real, fake = torch.randn(4, 1, 6, 6), torch.randn(4, 1, 6, 6)
    torch.manual_seed(2)
    plain = gradient_penalty(linear_critic(w), real, fake)
    torch.manual_seed(2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        autocast = gradient_penalty(linear_critic(w), real.bfloat16(), fake.bfloat16())
    assert autocast.dtype == torch.float32
    assert torch.allclose(plain, autocast, rtol=1e-2)


def test_wasserstein_gp_value_and_generator_loss() -> None:
    loss = build("wasserstein-gp")
    assert loss.config.gp_weight == 10.0 and loss.shift_invariant
    w = torch.full((1, 2, 2), 0.25)  # ||w|| = 0.5 -> GP = 0.25
    real, fake = torch.ones(3, 1, 2, 2), -torch.ones(6, 1, 2, 2)  # D(real) = 1, D(fake) = -1
    terms = loss.discriminator_loss(linear_critic(w), real, fake)
    assert torch.allclose(terms["loss"], torch.tensor(-1.0 - 1.0 + 10 * 0.25))
    assert torch.allclose(terms["wasserstein"], torch.tensor(2.0))
    assert torch.allclose(loss.generator_loss(torch.tensor([[1.0], [3.0]])), torch.tensor(-2.0))


def test_fake_batch_must_be_a_multiple_of_the_real_batch() -> None:
    with pytest.raises(GenzooError, match="multiple"):
        build("wasserstein-gp").discriminator_loss(linear_critic(torch.ones(4)), torch.zeros(3, 4), torch.zeros(4, 4))


def test_non_saturating_and_hinge_values() -> None:
    s, t = torch.tensor([2.0, -1.0]), torch.tensor([0.5, -3.0])
    critic_scores = iter([s, t])
    ns = build("non-saturating")
    terms = ns.discriminator_loss(lambda x: next(critic_scores), torch.zeros(2, 1), torch.zeros(2, 1))
    expected = -F.logsigmoid(s).mean() - torch.log1p(-torch.sigmoid(t)).mean()
    assert torch.allclose(terms["loss"], expected, atol=1e-6)
    assert "gradient_penalty" not in terms
    assert torch.allclose(ns.generator_loss(t), -torch.log(torch.sigmoid(t)).mean(), atol=1e-6)
    logit = build("non-saturating", generator_form="logit")
    p = torch.sigmoid(t)
    assert torch.allclose(logit.generator_loss(t), -torch.log(p / (1 - p)).mean(), atol=1e-5)
    critic_scores = iter([s, t])
    hinge = build("hinge")
    terms = hinge.discriminator_loss(lambda x: next(critic_scores), torch.zeros(2, 1), torch.zeros(2, 1))
    assert torch.allclose(terms["loss"], torch.tensor((0 + 2) / 2 + (1.5 + 0) / 2))
    assert torch.allclose(hinge.generator_loss(t), torch.tensor(1.25))


def test_optional_gradient_penalty_on_other_adversarial_losses() -> None:
    terms = build("hinge", gp_weight=1.0).discriminator_loss(
        linear_critic(torch.full((4,), 1.0)), torch.zeros(2, 4), torch.ones(2, 4)
    )
    assert torch.allclose(terms["gradient_penalty"], torch.tensor(1.0))  # ||w|| = 2


def test_reconstruction_reductions_and_likelihoods() -> None:
    torch.manual_seed(0)
    x = torch.rand(3, 1, 4, 4) * 2 - 1
    pre = torch.randn(3, 1, 4, 4)
    mean = torch.tanh(pre)
    l1_sum, l1_mean = build("l1"), build("l1", reduction="mean", scale=0.5)
    assert torch.allclose(l1_sum(pre, x), (x - mean).abs().sum((1, 2, 3)).mean())
    assert torch.allclose(l1_mean(pre, x), (x - mean).abs().mean())
    assert torch.allclose(l1_mean.log_prob(pre, x), D.Laplace(mean, 0.5).log_prob(x).sum((1, 2, 3)), atol=1e-5)
    gauss = build("gaussian", sigma=0.2)
    expected = D.Normal(mean, 0.2).log_prob(x).sum((1, 2, 3))
    assert torch.allclose(gauss.log_prob(pre, x), expected, atol=1e-4)
    assert torch.allclose(gauss(pre, x), -expected.mean(), atol=1e-4)
    binary = (torch.rand(3, 1, 4, 4) > 0.5).float() * 2 - 1  # {-1, 1} -> y in {0, 1}
    bern = build("bernoulli")
    probs = (mean + 1) / 2
    expected = D.Bernoulli(probs=probs).log_prob((binary + 1) / 2).sum((1, 2, 3))
    assert torch.allclose(bern.log_prob(pre, binary), expected, atol=1e-4)
    assert torch.allclose(bern.per_sample(pre, binary), -expected, atol=1e-4)


def test_bernoulli_stays_finite_where_tanh_saturates() -> None:
    pre = torch.tensor([[40.0, -40.0]], requires_grad=True)
    x = torch.tensor([[-1.0, 1.0]])  # maximally wrong
    value = build("bernoulli")(pre, x)
    value.backward()
    assert torch.isfinite(value) and value > 100 and torch.isfinite(pre.grad).all() and pre.grad.abs().min() > 1


def test_kl_normal_matches_torch_distributions() -> None:
    torch.manual_seed(0)
    mu, logvar = torch.randn(4, 6), torch.randn(4, 6)
    q = D.Normal(mu, (0.5 * logvar).exp())
    exact = D.kl_divergence(q, D.Normal(0.0, 1.0)).sum(1)
    kl = build("kl-normal")
    assert torch.allclose(kl.per_sample(mu, logvar), exact, atol=1e-5)
    assert torch.allclose(kl(mu, logvar), exact.mean(), atol=1e-5)
    assert torch.allclose(build("kl-normal", reduction="mean")(mu, logvar), exact.mean() / 6, atol=1e-5)


def test_code_discriminator_treats_prior_codes_as_real() -> None:
    loss = build("code-discriminator")
    critic = lambda z: 10 * z[:, :1]  # noqa: E731 - says "prior" for z0 > 0
    prior, encoded = torch.ones(4, 3), -torch.ones(4, 3)
    right = loss.discriminator_loss(critic, prior, encoded)["loss"]
    swapped = loss.discriminator_loss(critic, encoded, prior)["loss"]
    assert right < 1e-3 and swapped > 19
    scores = torch.tensor([0.3, -0.2])
    assert torch.allclose(loss.encoder_loss(scores), -F.logsigmoid(scores).mean())
    assert torch.allclose(build("code-discriminator", encoder_form="logit").encoder_loss(scores), -scores.mean())


def test_bad_loss_config_is_one_clear_error() -> None:
    with pytest.raises(GenzooError, match="sigma must be > 0"):
        build("gaussian", sigma=0.0)
    with pytest.raises(GenzooError, match="reduction"):
        build("l1", reduction="median")
    assert math.isclose(build("l1").config.scale, 0.1)


@pytest.mark.parametrize("compile_in_place", [True, False])
def test_the_gradient_penalty_through_a_compiled_critic_equals_the_eager_one(compile_in_place):
    """AOTAutograd's compiled backward is not differentiable (it donates its buffers and raised under
    `genzoo run wgan-gp --compile`); the penalty runs the critic eagerly, the same value and gradients."""
    from torch import nn

    def critic_net():
        torch.manual_seed(0)
        return nn.Sequential(nn.Conv2d(1, 4, 3, 2), nn.LeakyReLU(0.2), nn.Flatten(), nn.Linear(4 * 13 * 13, 1))

    real, fake = torch.rand(6, 1, 28, 28), torch.rand(6, 1, 28, 28)
    results = []
    for compiled in (False, True):
        net = critic_net()
        critic = net
        if compiled and compile_in_place:
            net.compile(backend="aot_eager")
        elif compiled:
            critic = torch.compile(net, backend="aot_eager")
        torch.manual_seed(1)
        penalty = gradient_penalty(critic, real, fake) + critic(fake).mean()  # the scores keep the compiled path
        penalty.backward()
        results.append((penalty.detach(), [p.grad.clone() for p in net.parameters()]))
    (value, grads), (compiled_value, compiled_grads) = results
    torch.testing.assert_close(compiled_value, value)
    for a, b in zip(grads, compiled_grads):
        torch.testing.assert_close(a, b)
    if compile_in_place:
        assert net._compiled_call_impl is not None  # restored after the penalty
