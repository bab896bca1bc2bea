"""Config dataclasses of the first-party models (light: imports only dataclasses and genzoo.config).

Every width, depth, latent size, loss weight, optimiser setting and steps-per-iteration is a
documented field, so ``genzoo info <model>`` lists it and ``--set`` changes it. Each model has a
nested ``loss`` table naming its loss plugins by role (``--set loss.adversarial=hinge``) with an
``*_options`` table passed to that loss's config (``--set loss.reconstruction_options.sigma=0.2``).
Options merge over the defaults key by key; a default entry that the chosen loss does not take is
dropped when the model builds it (vae-gan's Gaussian ``sigma`` when the user picks ``l1``), so
swapping a loss by name never passes it a foreign field, while a foreign option the user gives is
an error.
Per-player optimiser settings are flat fields (``critic_lr``, ``critic_steps``) so a partial TOML
table can never silently reset a model-specific default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from genzoo.config import doc

Norm = Literal["batch", "layer", "none"]
Augmentation = Literal["none", "translation"]  # genzoo_models.augment
Betas = tuple[float, float]


def _dense_prior() -> "SamplingPriorConfig":
    """alpha-gan's and vae-gan's sampling prior: 50 components fitted to 4 codes per image (MODELS.md)."""
    return SamplingPriorConfig(components=50, draws=4)


def _deep_discriminator_net() -> "BatchNormDiscriminatorNet":
    """alpha-gan's nets: a third discriminator stage (7x7 -> 3x3), whose convolutions see the whole digit; its
    reconstructions and samples were more recognisable on three seeds (MODELS.md)."""
    return BatchNormDiscriminatorNet(discriminator_extra_stages=1)


def _regressed_prior() -> "SamplingPriorConfig":
    """wgan-gp's sampling prior: 50 components fitted to one latent-regressor code per image (MODELS.md)."""
    return SamplingPriorConfig(components=50)


def _wide_critic_net() -> "NetConfig":
    """wgan-gp's nets: a critic of width 64, as in Gulrajani et al.'s MNIST code (more recognisable samples,
    lower FID and higher recall than width 32 on three seeds; MODELS.md). It doubles the FLOPs of an
    iteration (two critic steps with the penalty's double backward) and costs about 1.4x its time."""
    return NetConfig(discriminator_width=64)


def _options(text: str, **defaults: Any) -> Any:
    return field(default_factory=lambda: dict(defaults), metadata={"doc": text})


@dataclass
class NetConfig:
    """Network sizes. The architecture follows the data shape (see genzoo_models.nets)."""

    architecture: Literal["auto", "conv", "resnet"] = doc(
        "auto: DCGAN-style conv for 28/32 px, ResNet for 64/128 px, 4-layer Conv3d for 32^3/64^3", "auto"
    )
    encoder_width: int = doc("channels of the encoder's first stage; doubles every stage", 32)
    generator_width: int = doc(
        "channels of the generator's last (full-resolution) stage; doubles toward the latent (16 drew wobbly "
        "strokes at every budget tried; MODELS.md)",
        32,
    )
    discriminator_width: int = doc("channels of the discriminator/critic's first stage; doubles every stage", 32)
    discriminator_extra_stages: int = doc(
        "stride-2 stages the discriminator/critic adds below the data's bottleneck (28 px: 7x7 -> 3x3), so its "
        "convolutions see the whole digit instead of 10-px patches",
        0,
    )
    max_width: int = doc("cap on the channels of any stage", 512)
    blocks_per_stage: int = doc("depth: conv layers (conv nets) or residual blocks (ResNet) per resolution", 1)
    encoder_norm: Norm = doc("normalisation in the encoder", "batch")
    discriminator_norm: Norm = doc(
        "normalisation in the discriminator/critic; batch norm is refused with a gradient penalty", "none"
    )

    def __post_init__(self) -> None:
        for name in ("encoder_width", "generator_width", "discriminator_width", "max_width", "blocks_per_stage"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.discriminator_extra_stages < 0:
            raise ValueError(f"discriminator_extra_stages must be >= 0, got {self.discriminator_extra_stages}")


@dataclass
class BatchNormDiscriminatorNet(NetConfig):
    """Nets of models whose image discriminator has no gradient penalty (DCGAN-style batch norm)."""

    discriminator_norm: Norm = doc(
        "normalisation in the discriminator; batch norm is refused with a gradient penalty", "batch"
    )


# --- VAE ---------------------------------------------------------------------------------------
PRIOR_KINDS = ("mixture", "normal")


@dataclass
class SamplingPriorConfig:
    kind: str = doc(
        "what generate() draws codes from: 'mixture' (a Gaussian mixture fitted to the encoded training codes at "
        "every checkpoint, ex-post density estimation) or 'normal' (N(0, I), the training prior: the papers)",
        "mixture",
    )
    components: int = doc("mixture components (20; alpha-gan and vae-gan default to 50: MODELS.md)", 20)
    images: int = doc("training images encoded for each fit (the first N of the training split)", 10000)
    draws: int = doc(
        "codes z = mu + sigma * eps drawn per encoded image (several eps each: more codes for the fit from "
        "one encoder pass; MODELS.md)",
        1,
    )
    iterations: int = doc("EM iterations of each fit", 100)
    ridge: float = doc("added to every covariance's diagonal (keeps it invertible)", 1e-4)
    temperature: float = doc(
        "scale of each sample's deviation from its component's mean (1: the fitted mixture; below 1 trades "
        "diversity for cleaner samples, like Glow's reduced temperature: MODELS.md)",
        1.0,
        sampling=True,
    )

    def __post_init__(self) -> None:
        if self.kind not in PRIOR_KINDS:
            raise ValueError(f"sampling_prior.kind must be one of {', '.join(PRIOR_KINDS)}, not {self.kind!r}")
        for name in ("components", "images", "draws", "iterations"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"sampling_prior.{name} must be an integer >= 1, not {value!r}")
        if not self.ridge > 0:  # also refuses NaN
            raise ValueError(f"sampling_prior.ridge must be > 0, not {self.ridge}")
        if not self.temperature > 0:
            raise ValueError(f"sampling_prior.temperature must be > 0, not {self.temperature}")


@dataclass
class VAELosses:
    reconstruction: str = doc("decoder likelihood p(x|z): bernoulli or gaussian (a reconstruction loss)", "bernoulli")
    reconstruction_options: dict[str, Any] = _options("config of the reconstruction loss", reduction="sum")
    divergence: str = doc("KL(q(z|x) || p(z)) loss", "kl-normal")
    divergence_options: dict[str, Any] = _options("config of the divergence loss", reduction="sum")


@dataclass
class VAEConfig:
    """Kingma & Welling's VAE; loss = -ELBO = E_q[-log p(x|z)] + beta*KL, summed per sample."""

    latent_dim: int = doc("size of z (8: fewer holes between the posterior's classes than 16 or 32; MODELS.md)", 8)
    beta: float = doc("weight of the KL term (1 = the ELBO)", 1.0)
    lr: float = doc("Adam learning rate", 1e-3)
    betas: Betas = doc("Adam betas", (0.9, 0.999))
    sampling_prior: SamplingPriorConfig = doc(
        "the distribution samples draw codes from (ex-post density estimation; MODELS.md)", default_factory=SamplingPriorConfig
    )
    net: NetConfig = doc("network sizes", default_factory=NetConfig)
    loss: VAELosses = doc("loss plugins", default_factory=VAELosses)


# --- WGAN-GP -----------------------------------------------------------------------------------
@dataclass
class WGANGPLosses:
    adversarial: str = doc("adversarial loss of critic and generator", "wasserstein-gp")
    adversarial_options: dict[str, Any] = _options("config of the adversarial loss (its gp_weight is lambda)")


@dataclass
class WGANGPConfig:
    """Gulrajani et al. 2017: critic without batch norm, lambda=10, ``critic_steps`` critic steps per generator step."""

    latent_dim: int = doc(
        "size of z (16: a mixture fitted to the latent regressor's codes needs few dimensions; the paper preset keeps "
        "128; MODELS.md)",
        16,
    )
    critic_lr: float = doc("critic Adam learning rate (two time-scale: twice the generator's; paper preset 1e-4)", 4e-4)
    generator_lr: float = doc("generator Adam learning rate (paper preset 1e-4)", 2e-4)
    betas: Betas = doc("Adam betas of both players (official MNIST code; the paper uses beta1=0)", (0.5, 0.9))
    critic_steps: int = doc(
        "critic steps per generator step (n_critic; the paper's 5 is the paper preset: at equal CPU time 2 steps "
        "at a higher critic lr drew more recognisable digits, MODELS.md)",
        2,
    )
    augment: Augmentation = doc(
        "differentiable augmentation of the critic's real and generated inputs: none | translation "
        "(DiffAugment, Zhao et al. 2020; genzoo_models.augment)",
        "none",
    )
    sampling_prior: SamplingPriorConfig = doc(
        "the distribution samples draw codes from: a mixture fitted to the latent regressor's codes of the training "
        "images (50 components), or N(0, I) with kind=normal (the paper; no regressor is built); MODELS.md",
        default_factory=_regressed_prior,
    )
    cluster_critic: bool = doc(
        "once the mixture is fitted, the critic also scores which of its components an image belongs to (a "
        "projection critic on the regressor's clusters, Miyato & Koyama 2018; Liu et al. 2020's self-conditioned "
        "GAN), and the generator trains on codes drawn from the mixture; only with sampling_prior.kind=mixture "
        "(N(0, I) has no clusters); MODELS.md",
        True,
    )
    refine_steps: int = doc(
        "sampling only, with the cluster critic: gradient steps each code takes up the critic's score before G "
        "draws it, z <- z + refine_step * grad_z D(G(z) | k) (the latent-space step of Tanaka 2019's discriminator "
        "optimal transport; 0: plain G(z); the paper preset takes 0; MODELS.md)",
        10,
        sampling=True,
    )
    refine_step: float = doc("size of each refinement step (refine_steps)", 0.005, sampling=True)
    net: NetConfig = doc("network sizes (critic width 64)", default_factory=_wide_critic_net)
    loss: WGANGPLosses = doc("loss plugins", default_factory=WGANGPLosses)

    def __post_init__(self) -> None:
        steps = self.refine_steps
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ValueError(f"refine_steps must be an integer >= 0, not {steps!r}")
        if not 0 < self.refine_step < float("inf"):  # also refuses NaN
            raise ValueError(f"refine_step must be a finite number > 0, not {self.refine_step}")


# --- GVAE --------------------------------------------------------------------------------------
@dataclass
class GVAELosses:
    reconstruction: str = doc("reconstruction loss of G(E(x))", "l1")
    reconstruction_options: dict[str, Any] = _options("config of the reconstruction loss", reduction="sum")
    divergence: str = doc("KL(q(z|x) || p(z)) loss", "kl-normal")
    divergence_options: dict[str, Any] = _options("config of the divergence loss", reduction="sum")
    adversarial: str = doc("critic loss on reconstructions and prior samples", "wasserstein-gp")
    adversarial_options: dict[str, Any] = _options("config of the adversarial loss (its gp_weight is lambda)")


@dataclass
class GVAEConfig:
    """Sagar's GVAE: VAE encoder + generator against a WGAN-GP critic on reconstructions and samples."""

    latent_dim: int = doc("size of z (the paper's best is 1000; 8 drew the most recognisable samples on CPU budgets)", 8)
    rec_weight: float = doc("lambda_rec, weight of the L1 reconstruction term", 1.0)
    kl_weight: float = doc("beta, weight of the KL term", 1.0)
    adversarial_weight: float = doc(
        "weight of the critic terms in the encoder+generator loss (10: the critic's gradient, norm ~1 under the "
        "penalty, otherwise drowns in the summed L1's, norm ~28 on 784 pixels)",
        10.0,
    )
    lr: float = doc(
        "Adam learning rate of every player; the paper uses 1e-4, which needs far more than the default "
        "2000 CPU steps for clean samples",
        5e-4,
    )
    betas: Betas = doc("Adam betas of every player (WGAN-GP's official setting)", (0.5, 0.9))
    critic_steps: int = doc("critic steps per encoder+generator step", 1)
    code_critic: bool = doc(
        "replace beta*KL by a WGAN-GP code critic C(z) on prior vs encoded codes (Kwon's alpha-WGAN-GP reading; "
        "beta then weighs -E[C(z_x)])",
        False,
    )
    code_hidden: int = doc("hidden units of each code critic layer", 256)
    sampling_prior: SamplingPriorConfig = doc(
        "the distribution samples draw codes from (ex-post density estimation; MODELS.md)", default_factory=SamplingPriorConfig
    )
    net: NetConfig = doc("network sizes", default_factory=NetConfig)
    loss: GVAELosses = doc("loss plugins", default_factory=GVAELosses)


# --- alpha-GAN ---------------------------------------------------------------------------------
@dataclass
class AlphaGANLosses:
    reconstruction: str = doc("reconstruction loss of G(E(x))", "l1")
    reconstruction_options: dict[str, Any] = _options("config of the reconstruction loss", reduction="mean")
    adversarial: str = doc("image discriminator loss", "non-saturating")
    adversarial_options: dict[str, Any] = _options("config of the image adversarial loss")
    code: str = doc("code discriminator loss", "code-discriminator")
    code_options: dict[str, Any] = _options("config of the code discriminator loss")


@dataclass
class AlphaGANConfig:
    """Rosca et al. 2017: encoder, generator, image discriminator D and code discriminator C."""

    latent_dim: int = doc("size of z (8: MODELS.md; the paper preset keeps 16)", 8)
    rec_weight: float = doc(
        "lambda, weight of the mean-L1 reconstruction term (100: MODELS.md; Kwon's 10 is the paper preset)", 100.0
    )
    lr: float = doc("Adam learning rate of every player", 2e-4)
    betas: Betas = doc("Adam betas of every player", (0.5, 0.9))
    discriminator_steps: int = doc("image discriminator steps per iteration", 1)
    code_steps: int = doc("code discriminator steps per iteration", 1)
    autoencoder_steps: int = doc("encoder+generator steps per iteration (victor-shepardson uses 2)", 1)
    code_hidden: int = doc("hidden units of each code discriminator layer", 512)
    code_depth: int = doc("hidden layers of the code discriminator", 2)
    posterior_std: float = doc(
        "the encoder is deterministic; likelihood metrics use q(z|x) = N(E(x), posterior_std^2 I)", 0.1
    )
    sampling_prior: SamplingPriorConfig = doc(
        "the distribution samples draw codes from (ex-post density estimation; 50 components fitted to 4 codes "
        "per image: MODELS.md)",
        default_factory=_dense_prior,
    )
    net: BatchNormDiscriminatorNet = doc(
        "network sizes (a third discriminator stage)", default_factory=_deep_discriminator_net
    )
    loss: AlphaGANLosses = doc("loss plugins", default_factory=AlphaGANLosses)


# --- VAE-GAN -----------------------------------------------------------------------------------
@dataclass
class VAEGANLosses:
    reconstruction: str = doc("pixel-space reconstruction loss (Kwon's baseline uses MSE)", "gaussian")
    reconstruction_options: dict[str, Any] = _options(
        "config of the reconstruction loss (sigma is the gaussian's: dropped when another loss is chosen)",
        reduction="sum",
        sigma=1.0,
    )
    divergence: str = doc("KL(q(z|x) || p(z)) loss", "kl-normal")
    divergence_options: dict[str, Any] = _options("config of the divergence loss", reduction="sum")
    adversarial: str = doc("discriminator loss", "non-saturating")
    adversarial_options: dict[str, Any] = _options("config of the adversarial loss")


@dataclass
class VAEGANConfig:
    """Larsen et al. 2016 (Kwon's Table 3 baseline): encoder, decoder and discriminator players."""

    latent_dim: int = doc("size of z (16; at 128 the encoded codes drifted off the prior, MODELS.md)", 16)
    kl_weight: float = doc("beta, weight of KL in the encoder loss", 1.0)
    gamma: float = doc("weight of the reconstruction term in the decoder loss (Larsen's gamma)", 1.0)
    lr: float = doc("Adam learning rate of every player (1e-3: MODELS.md; Kwon's 1e-4 is the paper preset)", 1e-3)
    betas: Betas = doc("Adam betas of every player", (0.5, 0.999))
    discriminator_steps: int = doc("discriminator steps per iteration", 1)
    sampling_prior: SamplingPriorConfig = doc(
        "the distribution samples draw codes from (ex-post density estimation; 50 components fitted to 4 codes "
        "per image: MODELS.md)",
        default_factory=_dense_prior,
    )
    net: BatchNormDiscriminatorNet = doc("network sizes", default_factory=BatchNormDiscriminatorNet)
    loss: VAEGANLosses = doc("loss plugins", default_factory=VAEGANLosses)


# --- AVB ---------------------------------------------------------------------------------------
@dataclass
class AVBLosses:
    reconstruction: str = doc("decoder likelihood p(x|z) (a reconstruction loss), summed per sample", "bernoulli")
    reconstruction_options: dict[str, Any] = _options("config of the reconstruction loss", reduction="sum")
    adversarial: str = doc(
        "loss of the discriminator T(x, z); only the logistic loss (non-saturating) has the optimum "
        "T* = log q(z|x) - log p(z) that the ELBO needs",
        "non-saturating",
    )
    adversarial_options: dict[str, Any] = _options("config of T's logistic loss")


@dataclass
class AVBConfig:
    """Mescheder et al. 2017: implicit encoder z = E(x, eps), decoder, and T(x, z) in place of the KL."""

    latent_dim: int = doc("size of z (the paper's MNIST run without adaptive contrast uses 8)", 8)
    noise_dim: int = doc("size of the encoder's noise eps ~ N(0, I) (the paper's code: 16)", 16)
    encoder_hidden: int = doc("units of the encoder head that mixes image features with eps", 256)
    discriminator_hidden: int = doc("image features of T and units of each of its MLP layers", 256)
    discriminator_depth: int = doc("hidden layers of T's MLP on [f(x), z]", 2)
    kl_weight: float = doc("weight of E_q[T(x, z)], the KL estimate (1 = the AVB ELBO)", 1.0)
    lr: float = doc(
        "Adam learning rate of the encoder+decoder player (the paper's code: 1e-4, slow for 2000 CPU steps)", 5e-4
    )
    discriminator_lr: float = doc("Adam learning rate of T (twice the encoder's, as the paper's code)", 1e-3)
    betas: Betas = doc("Adam betas of both players (the paper's code: beta1 = 0.5)", (0.5, 0.999))
    discriminator_steps: int = doc("T steps per encoder+decoder step", 1)
    encode_samples: int = doc(
        "K: encoder samples whose moments give the Gaussian q(z|x) of encode() (likelihood metrics)", 64
    )
    sampling_prior: SamplingPriorConfig = doc(
        "the distribution samples draw codes from (ex-post density estimation; MODELS.md)", default_factory=SamplingPriorConfig
    )
    net: NetConfig = doc("network sizes", default_factory=NetConfig)
    loss: AVBLosses = doc("loss plugins", default_factory=AVBLosses)
