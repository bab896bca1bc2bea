"""``vae-gan``: Larsen et al. (2016), Autoencoding beyond pixels using a learned similarity metric,
as the baseline of Kwon et al. 2019 / Sagar's Table 3 (REFERENCE.md sec. 1.5).

Encoder E (q(z|x) = N(mu, diag sigma^2)), decoder G and discriminator D, three players stepped in
Larsen's order, each on a fresh forward pass. With x_rec = G(mu + sigma*eps) and x_p = G(z),
z ~ N(0, I), averaged over the batch:

    Encoder:        L_E = beta * KL(q(z|x) || N(0, I)) + L_rec(x_rec, x)
    Decoder:        L_G = gamma * L_rec(x_rec, x) + l_gen(D(x_rec)) + l_gen(D(x_p))
    Discriminator:  L_D = E[softplus(-D(x))] + E[softplus(D([x_rec; x_p]))]

L_rec is the ``loss.reconstruction`` plugin (Gaussian, sigma = 1, summed per sample), KL is
summed over latent dimensions, l_gen(t) = softplus(-t) = -log D(.).
G runs on [z_rec; z] and D scores [x_rec; x_p] as one batch in every step (the encoder's too), so
batch norm sees the same mixture in training as its running averages hold at sampling time.
Choices: Larsen measure L_rec on the features of D's l-th layer; Kwon's baseline (the table's
numbers) uses pixel MSE, which we follow. Kwon's encoder loss, mean-KL + 10*mean-MSE, weighs the
summed squared error against the summed KL by 10*Z/D (Z = 128 latent dims, D = 784 pixels), the
weight 1/(2 sigma^2) of sigma ~ 0.55; at sigma = 0.5 that weight let the encoder's codes drift off the
prior (their mean 0.76 per dimension from 0), where the decoder had learned no prior samples, so the
samples were noise. sigma = 1 and latent 16 keep the codes on the prior (drift 0.18) and the samples
digits (MODELS.md has the runs; a registry contract test checks the shipped checkpoint's codes).
gamma = 1 keeps the decoder reconstruction-led (at 0.01 the discriminator's terms dominated).
Adam lr 1e-3 for every player (ten times Kwon's 1e-4, the ``paper`` preset; MODELS.md has the three seeds).

Likelihood evaluation: Bernoulli on (x+1)/2 with p = (G(z)+1)/2, like the other tanh decoders.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from genzoo.model import Player
from genzoo_models.common import LatentModel, check_player
from genzoo_models.configs import VAEGANConfig


class VAEGAN(LatentModel):
    """Encoder, decoder and discriminator players."""

    capabilities = frozenset({"encoder"})

    def __init__(self, config: VAEGANConfig, data_shape: Sequence[int]) -> None:
        super().__init__(config, data_shape)
        self.reconstruction = self._loss("reconstruction")
        self.divergence = self._loss("divergence")
        self.adversarial = self._loss("adversarial")
        self._build_gaussian_encoder()
        self._build_generator()
        self._build_critic(self.adversarial, "discriminator")
        self._set_observation("bernoulli")

    def players(self) -> list[Player]:
        cfg = self.config
        betas = tuple(cfg.betas)
        return [
            Player("encoder", ("encoder",), lr=cfg.lr, betas=betas),
            Player("decoder", ("generator",), lr=cfg.lr, betas=betas),
            Player("discriminator", ("discriminator",), lr=cfg.lr, betas=betas, steps=cfg.discriminator_steps),
        ]

    def loss(self, player: str, batch: Tensor) -> dict[str, Tensor]:
        cfg = self.config
        z_prior = self.prior(batch.shape[0], batch)
        if player == "encoder":
            mu, logvar = self.encoder(batch)
            # G sees [z_rec; z] as in the decoder step, so batch norm behaves the same in both.
            pre = self.generator.pre_tanh(torch.cat([self.reparameterize(mu, logvar), z_prior]))
            rec = self.reconstruction(pre[: batch.shape[0]], batch)
            kl = self.divergence(mu, logvar)
            return {"loss": cfg.kl_weight * kl + rec, "reconstruction": rec.detach(), "kl": kl.detach()}
        with torch.no_grad():
            z_rec = self.reparameterize(*self.encoder(batch))
        if player == "decoder":
            pre = self.generator.pre_tanh(torch.cat([z_rec, z_prior]))
            rec = self.reconstruction(pre[: batch.shape[0]], batch)
            # D scores [x_rec; x_p] as one batch, as in its own step; twice the mean = the sum.
            adv = 2.0 * self.adversarial.generator_loss(self.discriminator(pre.tanh()))
            return {"loss": cfg.gamma * rec + adv, "reconstruction": rec.detach(), "adversarial": adv.detach()}
        check_player(self, player, "discriminator")
        with torch.no_grad():
            fakes = self.generator(torch.cat([z_rec, z_prior]))
        return self.adversarial.discriminator_loss(self.discriminator, batch, fakes)


def build(config: VAEGANConfig, data_shape: Sequence[int]) -> VAEGAN:
    """Factory named in the plugin's ModelSpec."""
    return VAEGAN(config, data_shape)
