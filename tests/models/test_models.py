"""First-party models: defaults from the papers, architecture choice, equations, loss swapping."""

from __future__ import annotations

import math

import pytest
import torch
from torch import distributions as D
from torch import nn

from genzoo import config as config_tools
from genzoo.errors import ConfigError
from genzoo.registry import get_registry
from genzoo.steps import build_optimizers, check_players, run_iteration

TINY = {"net": {"encoder_width": 4, "generator_width": 4, "discriminator_width": 4, "max_width": 16}, "latent_dim": 8}


def build(name: str, shape=(1, 28, 28), **overrides):
    return get_registry().build_model(name, {**TINY, **overrides}, shape)


def modules_of(net: nn.Module, kind: type) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, kind)]


@pytest.mark.parametrize("shape", [(1, 27, 27), (1, 28, 32), (3, 48, 48), (1, 16, 16, 16), (28, 28)])
def test_unsupported_shape_names_supported_sizes(shape) -> None:
    with pytest.raises(ConfigError, match=r"28, 32, 64, 128.*32, 64"):
        build("gvae", shape)


def test_wgan_gp_paper_preset_and_cpu_defaults() -> None:
    from genzoo.runconfig import resolve_run_config

    registry = get_registry()
    spec = registry.get("model", "wgan-gp")
    paper = registry.make_config(spec, resolve_run_config(model="wgan-gp", preset="paper").model_config)
    critic, generator = registry.build_model("wgan-gp", paper, (1, 28, 28)).players()
    assert (critic.name, critic.steps, critic.lr, critic.betas) == ("critic", 5, 1e-4, (0.5, 0.9))
    assert (generator.steps, generator.lr, generator.betas) == (1, 1e-4, (0.5, 0.9))
    model = registry.build_model("wgan-gp", None, (1, 28, 28))
    critic, generator = model.players()  # the CPU-budget default: two time-scales, 2 critic steps
    assert (critic.steps, critic.lr, generator.lr) == (2, 4e-4, 2e-4)
    assert (generator.modules, model.config.latent_dim) == (("generator", "regressor"), 16)  # the fitted prior's
    assert model.adversarial.config.gp_weight == 10.0
    assert not modules_of(model.critic, nn.modules.batchnorm._BatchNorm)
    assert model.critic.head.bias is None  # its gradient is zero under a Wasserstein loss


def test_gvae_code_critic_replaces_the_kl_term() -> None:
    model = build("gvae", code_critic=True)
    assert [p.name for p in model.players()] == ["critic", "code_critic", "autoencoder"]
    batch = torch.rand(6, 1, 28, 28) * 2 - 1
    terms = model("autoencoder", batch)
    assert "code" in terms and "kl" not in terms
    code_terms = model("code_critic", batch)
    assert "gradient_penalty" in code_terms and code_terms["loss"].requires_grad
    code_terms["loss"].backward()
    assert model.code_critic.net[0].weight.grad is not None and model.encoder.net.head.weight.grad is None


def test_gvae_defaults_and_players() -> None:
    model = get_registry().build_model("gvae", None, (1, 28, 28))
    players = {p.name: p for p in model.players()}
    assert set(players) == {"critic", "autoencoder"}
    assert players["autoencoder"].modules == ("encoder", "generator")
    assert all(p.lr == 5e-4 for p in players.values())  # the paper's 1e-4 (its preset) is too slow on a CPU
    assert type(model.adversarial).__name__ == "WassersteinGP" and type(model.reconstruction).__name__ == "L1"
    assert model.capabilities == {"encoder"}


def test_architecture_follows_the_data_shape() -> None:
    small = build("gvae", (1, 28, 28))
    assert small.plan.architecture == "conv" and small.plan.stages == 2
    assert type(build("gvae", (3, 64, 64)).generator).__name__ == "ResNetGenerator"
    volume = build("gvae", (1, 32, 32, 32))
    encoder_convs = modules_of(volume.encoder, nn.Conv3d)
    critic_convs = modules_of(volume.critic, nn.Conv3d)
    assert len(encoder_convs) == 4 and all(c.kernel_size == (3, 3, 3) for c in encoder_convs)
    assert len(critic_convs) == 4 and all(c.kernel_size == (3, 3, 3) for c in critic_convs)
    assert modules_of(volume.encoder, nn.BatchNorm3d) and modules_of(volume.encoder, nn.LeakyReLU)
    assert not modules_of(volume.critic, nn.modules.batchnorm._BatchNorm)
    assert volume.generate(torch.randn(2, 8)).shape == (2, 1, 32, 32, 32)
    with pytest.raises(ConfigError, match="power-of-two"):
        build("vae", (1, 28, 28), net={**TINY["net"], "architecture": "resnet"})


def test_vae_loss_is_the_negative_elbo_summed_per_sample() -> None:
    model = build("vae")
    x = torch.rand(5, 1, 28, 28) * 2 - 1
    torch.manual_seed(3)
    terms = model.loss("vae", x)
    torch.manual_seed(3)
    mu, logvar = model.encoder(x)
    z = mu + (0.5 * logvar).exp() * torch.randn_like(mu)
    probs = (model.generator(z) + 1) / 2
    rec = -(((x + 1) / 2) * probs.log() + (1 - (x + 1) / 2) * (1 - probs).log()).sum((1, 2, 3)).mean()
    kl = D.kl_divergence(D.Normal(mu, (0.5 * logvar).exp()), D.Normal(0.0, 1.0)).sum(1).mean()
    assert torch.allclose(terms["reconstruction"], rec, rtol=1e-4)
    assert torch.allclose(terms["kl"], kl, rtol=1e-4)
    assert torch.allclose(terms["loss"], rec + kl, rtol=1e-4)


def test_vae_gaussian_likelihood_is_selectable() -> None:
    model = build("vae", loss={"reconstruction": "gaussian", "reconstruction_options": {"sigma": 0.3}})
    x, z = torch.rand(2, 1, 28, 28) * 2 - 1, torch.randn(2, 8)
    model.eval()
    expected = D.Normal(model.decode(z), 0.3).log_prob(x).sum((1, 2, 3))
    assert torch.allclose(model.decoder_log_prob(x, z), expected, atol=1e-3)


def test_tanh_decoders_evaluate_a_bernoulli_likelihood() -> None:
    for name in ("gvae", "alpha-gan", "vae-gan", "wgan-gp", "avb"):
        model = build(name).eval()
        x = (torch.rand(2, 1, 28, 28) > 0.5).float() * 2 - 1
        z = torch.randn(2, 8)
        expected = D.Bernoulli(probs=(model.decode(z) + 1) / 2).log_prob((x + 1) / 2).sum((1, 2, 3))
        assert torch.allclose(model.decoder_log_prob(x, z), expected, atol=1e-3), name


def test_alpha_gan_encoder_is_deterministic_with_the_configured_posterior_std() -> None:
    model = build("alpha-gan", posterior_std=0.2).eval()
    mu, logvar = model.encode(torch.zeros(2, 1, 28, 28))
    assert torch.allclose(logvar, torch.full_like(mu, 2 * math.log(0.2)))
    names = [p.name for p in model.players()]
    assert names == ["discriminator", "code_discriminator", "autoencoder"]
    assert not modules_of(model.code_discriminator, nn.modules.batchnorm._BatchNorm)


def test_set_override_swaps_the_adversarial_loss() -> None:
    spec = get_registry().get("model", "wgan-gp")
    overrides = ["loss.adversarial=hinge", "latent_dim=8"] + [f"net.{k}={v}" for k, v in TINY["net"].items()]
    values = config_tools.apply_overrides(config_tools.to_dict(spec.default_config()), overrides)
    model = get_registry().build_model("wgan-gp", values, (1, 28, 28))
    assert type(model.adversarial).__name__ == "Hinge"
    assert model.critic.head.bias is not None
    batch = torch.rand(4, 1, 28, 28) * 2 - 1
    logged = run_iteration(model, check_players(model), build_optimizers(model), lambda: batch)
    assert torch.isfinite(logged["critic/loss"]) and "critic/gradient_penalty" not in logged


def test_wrong_role_and_batch_norm_under_a_penalty_are_config_errors() -> None:
    expected = r"loss.adversarial='l1' is a reconstruction loss; choose one of the adversarial losses:.*hinge"
    with pytest.raises(ConfigError, match=expected):
        build("gvae", loss={"adversarial": "l1"})
    with pytest.raises(ConfigError, match="discriminator_norm=none"):
        build("gvae", net={**TINY["net"], "discriminator_norm": "batch"})
    with pytest.raises(ConfigError, match="unknown config field"):
        build("gvae", latent_size=4)


def test_models_train_a_few_steps_on_the_embedded_digits_and_a_volume() -> None:
    registry = get_registry()
    digits = registry.build_dataset("mnist5k", None, "train")
    batch = torch.stack([digits[i] for i in range(8)])
    assert batch.shape == (8, 1, 28, 28) and batch.min() >= -1 and batch.max() <= 1
    volume = torch.rand(2, 1, 32, 32, 32) * 2 - 1
    for data in (batch, volume):
        model = build("gvae", tuple(data.shape[1:]))
        players, optimizers = check_players(model), build_optimizers(model)
        for step in range(3):
            logged = run_iteration(model, players, optimizers, lambda: data, step=step)
        assert all(torch.isfinite(v) for v in logged.values())


def test_widths_and_depth_are_config_fields() -> None:
    deep = build("vae", (3, 64, 64), net={**TINY["net"], "blocks_per_stage": 2, "encoder_width": 8})
    blocks = [m for m in deep.encoder.modules() if type(m).__name__ == "ResBlock"]
    assert len(blocks) == 2 * 4  # four resolutions, two blocks each
    first_conv = modules_of(deep.encoder, nn.Conv2d)[0]
    assert first_conv.out_channels == 8
    conv_deep = build("vae", (1, 28, 28), net={**TINY["net"], "blocks_per_stage": 3})
    assert len(modules_of(conv_deep.encoder, nn.Conv2d)) == 2 * 3
    assert build("vae", (1, 28, 28), latent_dim=5).encode(torch.zeros(2, 1, 28, 28))[0].shape == (2, 5)


@pytest.mark.parametrize("name, attribute", [("wgan-gp", "critic"), ("gvae", "critic"), ("alpha-gan", "discriminator"),
                                             ("vae-gan", "discriminator"), ("avb", "discriminator")])
def test_discriminator_extra_stages_deepen_only_the_image_discriminator(name, attribute) -> None:
    def strided_convs(model) -> list[nn.Conv2d]:
        return [m for m in getattr(model, attribute).modules() if isinstance(m, nn.Conv2d) and m.stride == (2, 2)]

    plain = build(name, net={**TINY["net"], "discriminator_extra_stages": 0})
    deep = build(name, net={**TINY["net"], "discriminator_extra_stages": 1})
    assert len(strided_convs(plain)) == 2 and len(strided_convs(deep)) == 3  # 28 -> 14 -> 7 (-> 3)
    assert sum(p.numel() for p in deep.generator.parameters()) == sum(p.numel() for p in plain.generator.parameters())
    x = torch.randn(2, 1, 28, 28)
    features = getattr(deep, attribute).features if name == "avb" else getattr(deep, attribute)
    assert features(x).shape[0] == 2


def test_alpha_gans_third_discriminator_stage_is_its_default_and_not_its_papers() -> None:
    from genzoo.runconfig import resolve_run_config

    registry = get_registry()
    spec = registry.get("model", "alpha-gan")
    assert registry.make_config(spec).net.discriminator_extra_stages == 1
    paper = registry.make_config(spec, resolve_run_config(model="alpha-gan", preset="paper").model_config)
    assert (paper.net.discriminator_extra_stages, paper.net.discriminator_norm) == (0, "batch")
    for name in ("gvae", "vae-gan", "wgan-gp", "avb"):
        assert registry.make_config(registry.get("model", name)).net.discriminator_extra_stages == 0, name


def test_discriminator_extra_stages_that_leave_no_pixels_are_one_line() -> None:
    assert build("wgan-gp", net={**TINY["net"], "discriminator_extra_stages": 2}).critic(torch.zeros(1, 1, 28, 28)).shape == (1, 1)
    with pytest.raises(ConfigError, match=r"discriminator_extra_stages=3 .* at most 2"):
        build("wgan-gp", net={**TINY["net"], "discriminator_extra_stages": 3})
    with pytest.raises(ConfigError, match=r"discriminator_extra_stages=2 .* at most 1"):
        build("gvae", (1, 32, 32, 32), net={**TINY["net"], "discriminator_extra_stages": 2})
    with pytest.raises(ConfigError, match=r"discriminator_extra_stages must be >= 0"):
        build("gvae", net={**TINY["net"], "discriminator_extra_stages": -1})


@pytest.mark.parametrize("name", ["wgan-gp", "gvae"])
def test_models_with_a_gradient_penalty_train_with_compiled_networks(name):
    """The trainer compiles every network in place (--compile); AOTAutograd (inductor's front end,
    here without code generation) must not meet the penalty's double backward."""
    torch.manual_seed(0)
    model = build(name)
    for child in model.children():
        child.compile(backend="aot_eager")
    players = check_players(model)
    logged = run_iteration(model, players, build_optimizers(model), lambda: torch.rand(8, 1, 28, 28) * 2 - 1, step=1)
    assert logged["critic/gradient_penalty"] > 0 and all(math.isfinite(float(v)) for v in logged.values())
