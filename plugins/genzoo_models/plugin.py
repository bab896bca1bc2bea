"""Entry module of genzoo's first-party models (registered under the ``genzoo`` entry-point group).

Imports nothing heavy: factories and configs are named as strings and loaded on first use. The
equations, sources and choices of every model are in MODELS.md beside this file.
"""

from __future__ import annotations

from genzoo import hookimpl
from genzoo.specs import ModelSpec

_PKG = "genzoo_models"

# Default budgets (iterations of `genzoo run MODEL`), sized from the per-step cost to take minutes on
# 2 quiet CPU cores on mnist5k; MODELS.md has the runs behind the recipes and the measured wall times.
GVAE_STEPS = 2000
VAE_STEPS = 6000
WGANGP_STEPS = 1800  # 2,500 at critic width 64 took 11 min 37 s on the 2 idle cores, 2,000 9 min 52 s before the latent regressor; MODELS.md
ALPHAGAN_STEPS = 2000
VAEGAN_STEPS = 2000
AVB_STEPS = 2000


#: every paper samples its VAE-family model from N(0, I), the training prior; the defaults fit a mixture
#: to the encoded codes instead (genzoo_models.sampling_prior, MODELS.md)
PAPER_PRIOR = {"sampling_prior.kind": "normal"}


@hookimpl
def genzoo_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="gvae",
            factory=f"{_PKG}.gvae:build",
            config=f"{_PKG}.configs:GVAEConfig",
            summary="Sagar's Generative VAE: VAE encoder + generator against a WGAN-GP critic",
            tags=("vae", "gan", "encoder", "3d"),
            default_steps=GVAE_STEPS,
            presets={
                # Sagar: Adam lr 1e-4 (betas and critic steps are not given)
                "paper": {"lr": 1e-4, **PAPER_PRIOR},
                "ablation-code-critic": {"code_critic": True},
                "ablation-critic5": {"critic_steps": 5},
                "ablation-mean-l1": {"loss.reconstruction_options.reduction": "mean", "rec_weight": 10.0},
            },
        ),
        ModelSpec(
            name="vae",
            factory=f"{_PKG}.vae:build",
            config=f"{_PKG}.configs:VAEConfig",
            summary="Kingma & Welling's VAE with a Bernoulli or Gaussian decoder (ELBO per sample)",
            tags=("vae", "encoder", "likelihood", "3d"),
            default_steps=VAE_STEPS,
            # Kingma & Welling 2014, sec. 5: MNIST with N_z = 20 (we keep Adam for their Adagrad)
            presets={"paper": {"latent_dim": 20, "lr": 1e-3, **PAPER_PRIOR}},
        ),
        ModelSpec(
            name="wgan-gp",
            factory=f"{_PKG}.wgan_gp:build",
            config=f"{_PKG}.configs:WGANGPConfig",
            summary="Gulrajani et al.'s WGAN-GP: lambda=10 per-sample gradient penalty, no batch norm in the critic",
            tags=("gan", "3d"),
            default_steps=WGANGP_STEPS,
            # Gulrajani et al.'s official MNIST code: Adam 1e-4, betas (0.5, 0.9), 5 critic steps, z of 128
            presets={"paper": {"critic_lr": 1e-4, "generator_lr": 1e-4, "betas": [0.5, 0.9], "critic_steps": 5,
                               "latent_dim": 128, "cluster_critic": False, "refine_steps": 0, **PAPER_PRIOR}},
        ),
        ModelSpec(
            name="alpha-gan",
            factory=f"{_PKG}.alpha_gan:build",
            config=f"{_PKG}.configs:AlphaGANConfig",
            summary="Rosca et al.'s alpha-GAN: encoder, generator, image and code discriminators",
            tags=("gan", "encoder", "3d"),
            default_steps=ALPHAGAN_STEPS,
            # Kwon et al.'s alpha-GAN baseline: Adam 2e-4 with default betas, lambda = 10 on a mean L1
            presets={"paper": {"lr": 2e-4, "betas": [0.9, 0.999], "rec_weight": 10.0, "latent_dim": 16,
                               "net.discriminator_extra_stages": 0, **PAPER_PRIOR}},
        ),
        ModelSpec(
            name="vae-gan",
            factory=f"{_PKG}.vae_gan:build",
            config=f"{_PKG}.configs:VAEGANConfig",
            summary="Larsen et al.'s VAE-GAN (Kwon's baseline): encoder, decoder and discriminator",
            tags=("vae", "gan", "encoder", "3d"),
            default_steps=VAEGAN_STEPS,
            # Kwon et al.'s VAE-GAN baseline: Adam 1e-4 with default betas
            presets={"paper": {"lr": 1e-4, "betas": [0.9, 0.999], **PAPER_PRIOR}},
        ),
        ModelSpec(
            name="avb",
            factory=f"{_PKG}.avb:build",
            config=f"{_PKG}.configs:AVBConfig",
            summary="Mescheder et al.'s Adversarial Variational Bayes: implicit encoder, T(x, z) in place of the KL",
            tags=("vae", "gan", "encoder", "likelihood", "3d"),
            default_steps=AVB_STEPS,
            # Mescheder et al.'s code (experiments/avb_mnist_8): Adam 1e-4, T at twice that
            presets={"paper": {"lr": 1e-4, "discriminator_lr": 2e-4, **PAPER_PRIOR}},
        ),
    ]
