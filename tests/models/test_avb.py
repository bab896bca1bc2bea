"""``avb``: the paper-code defaults, the implicit encoder, T's logistic loss and optimum, the ELBO terms."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from genzoo.errors import ConfigError
from genzoo.registry import get_registry

TINY = {"net": {"encoder_width": 4, "generator_width": 4, "discriminator_width": 4, "max_width": 16},
        "encoder_hidden": 16, "discriminator_hidden": 16}


def build(shape=(1, 28, 28), **overrides):
    return get_registry().build_model("avb", {**TINY, **overrides}, shape)


def test_defaults_follow_the_paper_code() -> None:
    model = get_registry().build_model("avb", None, (1, 28, 28))
    cfg = model.config
    assert (cfg.latent_dim, cfg.noise_dim, cfg.kl_weight) == (8, 16, 1.0)
    discriminator, autoencoder = model.players()
    assert (discriminator.name, discriminator.modules, discriminator.steps) == ("discriminator", ("discriminator",), 1)
    assert (autoencoder.name, autoencoder.modules) == ("autoencoder", ("encoder", "generator"))
    assert (autoencoder.lr, discriminator.lr) == (5e-4, 1e-3)  # the code's 2:1 ratio, 5x its 1e-4 for the CPU budget
    assert autoencoder.betas == discriminator.betas == (0.5, 0.999)
    assert type(model.adversarial).__name__ == "NonSaturating" and model.adversarial.config.gp_weight == 0
    assert type(model.reconstruction).__name__ == "Bernoulli" and model.observation is model.reconstruction
    assert not [m for m in model.discriminator.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert model.capabilities == {"encoder"}


def test_encoder_is_implicit_and_encode_is_the_moment_matched_gaussian() -> None:
    model = build(latent_dim=3, noise_dim=5, encode_samples=7).eval()
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    with torch.no_grad():
        first, second = model.encoder(x), model.encoder(x)
        assert first.shape == (4, 3) and not torch.allclose(first, second)  # a fresh eps per call
        eps = torch.randn(4, 5)
        assert torch.equal(model.encoder(x, eps), model.encoder(x, eps))  # deterministic given eps
        draws = model.encoder.draws(x, 7, torch.Generator().manual_seed(0))
        assert draws.shape == (7, 4, 3)
        # every draw is the encoder at one noise vector, shared by the images of the batch
        one_eps = torch.randn((7, 1, 5), generator=torch.Generator().manual_seed(0))[2].expand(4, -1)
        assert torch.allclose(draws[2], model.encoder(x, one_eps), atol=1e-6)
        mu, logvar = model.encode(x)
        again = model.encode(x)
    assert torch.equal(mu, again[0]) and torch.equal(logvar, again[1])
    assert torch.allclose(mu, draws.mean(0), atol=1e-6)
    assert torch.allclose(logvar, draws.var(0).clamp_min(1e-6).log(), atol=1e-5)
    assert torch.equal(model.reconstruct(x), model.decode(mu))


def test_discriminator_loss_is_the_logistic_loss_on_posterior_and_prior_pairs() -> None:
    model = build(latent_dim=4)
    x, z_q, z_p = torch.rand(6, 1, 28, 28) * 2 - 1, torch.randn(6, 4), torch.randn(6, 4)
    terms = model.discriminator_loss(x, z_q, z_p)
    t_q, t_p = model.discriminator(x, z_q).squeeze(1), model.discriminator(x, z_p).squeeze(1)
    expected = -F.logsigmoid(t_q).mean() - torch.log1p(-torch.sigmoid(t_p)).mean()
    assert torch.allclose(terms["loss"], expected, atol=1e-5)
    assert torch.allclose(terms["real_score"], t_q.mean(), atol=1e-6)


def test_autoencoder_loss_is_bernoulli_reconstruction_plus_mean_t() -> None:
    model = build(latent_dim=4, kl_weight=0.5)
    x = torch.rand(5, 1, 28, 28) * 2 - 1
    torch.manual_seed(1)
    terms = model.loss("autoencoder", x)
    torch.manual_seed(1)
    z = model.encoder(x)
    probs = ((model.generator(z) + 1) / 2).clamp(1e-6, 1 - 1e-6)
    y = (x + 1) / 2
    rec = -(y * probs.log() + (1 - y) * (1 - probs).log()).sum((1, 2, 3)).mean()
    t = model.discriminator(x, z).mean()
    assert torch.allclose(terms["reconstruction"], rec, rtol=1e-3)
    assert torch.allclose(terms["kl"], t, atol=1e-5)
    assert torch.allclose(terms["loss"], terms["reconstruction"] + 0.5 * t, atol=1e-4)
    assert torch.allclose(terms["elbo"], -(terms["reconstruction"] + t), atol=1e-4)
    # the encoder's gradient flows through T(x, E(x, eps)), not only through the decoder
    terms["loss"].backward()
    assert model.encoder.out.weight.grad is not None and model.encoder.out.weight.grad.abs().sum() > 0


def test_t_learns_the_log_density_ratio_on_a_gaussian_toy() -> None:
    """With q(z|x) = N(1, 0.5^2) and p = N(0, 1), T* = log q - log p (Prop. 1 of the paper)."""
    torch.manual_seed(0)
    model = build(latent_dim=1, discriminator_hidden=32)
    # x carries no information here: its features are computed once and only the MLP on
    # [f(x), z] is trained, with T's own logistic loss (this keeps the test cheap)
    x = torch.zeros(256, 1, 28, 28)
    with torch.no_grad():
        features = model.discriminator.features(x)
    optimizer = torch.optim.Adam(model.discriminator.joint.parameters(), lr=5e-3)
    scorer = lambda z: model.discriminator.joint(torch.cat([features, z], dim=1))  # noqa: E731
    for _ in range(300):
        optimizer.zero_grad()
        model.adversarial.discriminator_loss(scorer, 1 + 0.5 * torch.randn(256, 1), torch.randn(256, 1))["loss"].backward()
        optimizer.step()
    z = torch.linspace(0.25, 1.75, 7).unsqueeze(1)
    truth = (-0.5 * ((z - 1) / 0.5) ** 2 - math.log(0.5) + 0.5 * z**2).squeeze(1)
    with torch.no_grad():
        learned = model.discriminator(x[:7], z).squeeze(1)
    assert (learned - truth).abs().max() < 0.35, (learned, truth)


def test_config_errors_are_one_line() -> None:
    with pytest.raises(ConfigError, match="avb needs the logistic loss non-saturating"):
        build(loss={"adversarial": "hinge"})
    with pytest.raises(ConfigError, match="encode_samples must be >= 2"):
        build(encode_samples=1)
    with pytest.raises(ConfigError, match="noise_dim must be >= 1"):
        build(noise_dim=0)
