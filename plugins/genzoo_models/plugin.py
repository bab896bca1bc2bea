"""Entry module of genzoo's first-party models (registered under the ``genzoo`` entry-point group).

Imports nothing heavy: factories and configs are named as strings and loaded on first use. The
equations, sources and choices of every model are in MODELS.md beside this file.
"""

from __future__ import annotations

from genzoo import hookimpl
from genzoo.specs import ModelSpec

_PKG = "genzoo_models"


@hookimpl
def genzoo_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="gvae",
            factory=f"{_PKG}.gvae:build",
            config=f"{_PKG}.configs:GVAEConfig",
            summary="Sagar's Generative VAE: VAE encoder + generator against a WGAN-GP critic",
            tags=("vae", "gan", "encoder", "3d"),
        ),
        ModelSpec(
            name="vae",
            factory=f"{_PKG}.vae:build",
            config=f"{_PKG}.configs:VAEConfig",
            summary="Kingma & Welling's VAE with a Bernoulli or Gaussian decoder (ELBO per sample)",
            tags=("vae", "encoder", "likelihood", "3d"),
        ),
        ModelSpec(
            name="wgan-gp",
            factory=f"{_PKG}.wgan_gp:build",
            config=f"{_PKG}.configs:WGANGPConfig",
            summary="Gulrajani et al.'s WGAN-GP: lambda=10, 5 critic steps, no batch norm in the critic",
            tags=("gan", "3d"),
        ),
        ModelSpec(
            name="alpha-gan",
            factory=f"{_PKG}.alpha_gan:build",
            config=f"{_PKG}.configs:AlphaGANConfig",
            summary="Rosca et al.'s alpha-GAN: encoder, generator, image and code discriminators",
            tags=("gan", "encoder", "3d"),
        ),
        ModelSpec(
            name="vae-gan",
            factory=f"{_PKG}.vae_gan:build",
            config=f"{_PKG}.configs:VAEGANConfig",
            summary="Larsen et al.'s VAE-GAN (Kwon's baseline): encoder, decoder and discriminator",
            tags=("vae", "gan", "encoder", "3d"),
        ),
        ModelSpec(
            name="avb",
            factory=f"{_PKG}.avb:build",
            config=f"{_PKG}.configs:AVBConfig",
            summary="Mescheder et al.'s Adversarial Variational Bayes: implicit encoder, T(x, z) in place of the KL",
            tags=("vae", "gan", "encoder", "likelihood", "3d"),
        ),
    ]
