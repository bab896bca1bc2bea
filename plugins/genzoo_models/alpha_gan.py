"""``alpha-gan``: Rosca et al. (2017), Variational Approaches for Auto-Encoding GANs (arXiv:1706.04987).

Encoder E (deterministic, z^ = E(x)), generator G, image discriminator D and code discriminator C.
With x^ = G(z^) (reconstruction), x' = G(z), z ~ N(0, I) (sample), averaged over the batch
(REFERENCE.md sec. 1.4, Algorithm 1 with the corrected code-discriminator terms):

    Encoder + generator (one player):
        L_EG = lambda * |x - x^|_1 + l_code(C(z^)) + l_gen(D(x^)) + l_gen(D(x'))
    Image discriminator (``loss.adversarial``, fake = [x^; x']):
        L_D = E[softplus(-D(x))] + E[softplus(D([x^; x']))]
    Code discriminator (``loss.code``; prior codes real, encoded codes fake):
        L_C = E[softplus(-C(z))] + E[softplus(C(z^))]

where l_gen(t) = softplus(-t) = -log D and l_code likewise (non-saturating). Choices:

* E and G form one player with the summed loss (as Kwon's and victor-shepardson's code): E then
  also receives the image terms through x^, which Rosca's separate E update omits.
* The non-saturating -log D instead of the paper's log-ratio -log(D/(1-D)); set
  ``--set loss.adversarial_options.generator_form=logit`` and
  ``--set loss.code_options.encoder_form=logit`` for the paper's form.
* L1 is a mean over pixels (as Kwon's baseline and victor-shepardson) with lambda = 100 and latent 8:
  Kwon's lambda = 10 left reconstructions, and so the fitted prior's samples, less recognisable
  (MODELS.md); the ``paper`` preset restores lambda = 10 and latent 16.
* G runs once on [z^; z] and D scores [x^; x'] as one batch in every step, so batch norm sees
  the same mixture in training as its running averages hold at sampling time. D's loss averages
  over the concatenated fakes, so each fake set weighs half of the paper's sum in L_D.
* No batch norm in C (victor-shepardson's README); DCGAN batch norm in D (no gradient penalty).

Likelihood evaluation: the encoder is deterministic, so metrics use q(z|x) = N(E(x),
posterior_std^2 I) and the Bernoulli observation model on (x+1)/2 with p = (G(z)+1)/2.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from genzoo.errors import ConfigError
from genzoo.model import Player
from genzoo_models.common import LatentModel, check_player
from genzoo_models.configs import AlphaGANConfig
from genzoo_models.nets import CodeDiscriminator, build_encoder


class AlphaGAN(LatentModel):
    """Four networks in three players: autoencoder (E+G), discriminator, code discriminator."""

    capabilities = frozenset({"encoder"})

    def __init__(self, config: AlphaGANConfig, data_shape: Sequence[int]) -> None:
        super().__init__(config, data_shape)
        if config.posterior_std <= 0:
            raise ConfigError(f"posterior_std must be > 0, got {config.posterior_std}")
        self.reconstruction = self._loss("reconstruction")
        self.adversarial = self._loss("adversarial")
        self.code_loss = self._loss("code")
        net = config.net
        self.encoder = build_encoder(self.plan, net, net.encoder_width, config.latent_dim, net.encoder_norm)
        self._build_generator()
        self._build_critic(self.adversarial, "discriminator")
        self.code_discriminator = CodeDiscriminator(config.latent_dim, config.code_hidden, config.code_depth)
        self._set_observation("bernoulli")

    def players(self) -> list[Player]:
        cfg = self.config
        betas = tuple(cfg.betas)
        return [
            Player("discriminator", ("discriminator",), lr=cfg.lr, betas=betas, steps=cfg.discriminator_steps),
            Player("code_discriminator", ("code_discriminator",), lr=cfg.lr, betas=betas, steps=cfg.code_steps),
            Player("autoencoder", ("encoder", "generator"), lr=cfg.lr, betas=betas, steps=cfg.autoencoder_steps),
        ]

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu = self.encoder(x)
        return mu, torch.full_like(mu, 2.0 * math.log(self.config.posterior_std))

    def loss(self, player: str, batch: Tensor) -> dict[str, Tensor]:
        z_prior = self.prior(batch.shape[0], batch)
        if player == "discriminator":
            with torch.no_grad():
                fakes = self.generator(torch.cat([self.encoder(batch), z_prior]))
            return self.adversarial.discriminator_loss(self.discriminator, batch, fakes)
        if player == "code_discriminator":
            with torch.no_grad():
                z_enc = self.encoder(batch)
            return self.code_loss.discriminator_loss(self.code_discriminator, z_prior, z_enc)
        check_player(self, player, "autoencoder")
        z_enc = self.encoder(batch)
        pre = self.generator.pre_tanh(torch.cat([z_enc, z_prior]))
        rec = self.reconstruction(pre[: batch.shape[0]], batch)
        code = self.code_loss.encoder_loss(self.code_discriminator(z_enc))
        # D scores [x^; x'] as one batch, as in its own step; twice the mean = the paper's sum.
        adv = 2.0 * self.adversarial.generator_loss(self.discriminator(pre.tanh()))
        loss = self.config.rec_weight * rec + code + adv
        return {"loss": loss, "reconstruction": rec.detach(), "code": code.detach(), "adversarial": adv.detach()}


def build(config: AlphaGANConfig, data_shape: Sequence[int]) -> AlphaGAN:
    """Factory named in the plugin's ModelSpec."""
    return AlphaGAN(config, data_shape)
