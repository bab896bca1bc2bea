"""``gvae``: Sagar, "Generate High Fidelity Images With Generative Variational Autoencoder".

A VAE encoder E (q(z|x) = N(mu, diag sigma^2), reparameterised) and a generator G trained against
a WGAN-GP critic D that sees both reconstructions x_rec = G(z_x), z_x = mu + sigma*eps, and prior
samples x_p = G(z), z ~ N(0, I). With B real samples x (every term averaged over the batch):

    Critic (``critic_steps`` per iteration), the ``loss.adversarial`` plugin with fake = [x_rec; x_p]:
        L_D = 1/2 (E[D(x_rec)] + E[D(x_p)]) - E[D(x)] + lambda * GP(x, [x_rec; x_p]),   lambda = 10
    Encoder + generator (one player, one step):
        L_EG = lambda_rec * sum_pixels |x - x_rec| + beta * KL(q(z|x) || N(0, I))
               - w_adv * 1/2 (E[D(x_rec)] + E[D(x_p)])

The paper is vague in places; what we chose and why:

* L1 is summed over pixels per sample and KL summed over latent dimensions (both then averaged
  over the batch), so lambda_rec = beta = 1 makes the first two terms the negative ELBO of a
  Laplace decoder of scale 1; the paper does not say how it reduces either term. Set
  ``--set loss.reconstruction_options.reduction=mean`` and ``rec_weight=10`` for Kwon's 10*mean-L1.
* The critic's fake set is reconstructions and prior samples concatenated, each fake scored once;
  Kwon's alpha-WGAN sums two separate WGAN-GP losses (x vs x_rec, x vs x_p), which is this loss
  times two with the real term counted twice: the same gradients up to a factor of 2.
* G runs once on [z_x; z] so batch norm normalises reconstructions and samples with shared
  statistics, as its running averages do at sampling time.
* Adam lr 5e-4 for every player, not the paper's 1e-4: at 1e-4 the prior samples are still
  mostly scribbles after the default 2000 CPU steps (reconstructions are fine), at 5e-4 most are
  recognisable digits. ``--set lr=1e-4`` restores the paper. Betas (0.5, 0.9) from WGAN-GP's
  official code (the paper gives none). One critic step per iteration (as Kwon's alpha-WGAN, on which the paper
  builds); ``critic_steps=5`` gives WGAN-GP's ratio at five times the critic cost.
* Latent size 8 by default (fewest prior holes at CPU budgets, MODELS.md); the paper's best is 1000
  (``latent_dim``). Critic weight w_adv = 10: at 1 the penalised critic's gradient (norm ~1) drowns in
  the summed L1's (norm ~28 on 784 pixels).
* ``code_critic=true`` is the third reading (Kwon's alpha-WGAN-GP, on which the paper builds): a code
  critic C, trained with the same ``loss.adversarial`` on prior codes z (real) against encoded codes
  z_x (fake), replaces beta * KL by beta * (-E[C(z_x)]); the report's ablation compares the two.

Likelihood evaluation (``decoder_log_prob``): Bernoulli on (x+1)/2 with p = (G(z)+1)/2, the same
observation model as the other tanh-decoder models, so likelihood metrics compare across models.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from genzoo.model import Player
from genzoo_models.common import LatentModel, check_player
from genzoo_models.configs import GVAEConfig
from genzoo_models.nets import CodeDiscriminator


class GVAE(LatentModel):
    """Encoder + generator player and a WGAN-GP critic player."""

    capabilities = frozenset({"encoder"})

    def __init__(self, config: GVAEConfig, data_shape: Sequence[int]) -> None:
        super().__init__(config, data_shape)
        self.reconstruction = self._loss("reconstruction")
        self.divergence = self._loss("divergence")
        self.adversarial = self._loss("adversarial")
        self._build_gaussian_encoder()
        self._build_generator()
        self._build_critic(self.adversarial)
        if config.code_critic:
            self.code_critic = CodeDiscriminator(config.latent_dim, config.code_hidden, 2, bias=False)
        self._set_observation("bernoulli")

    def players(self) -> list[Player]:
        cfg = self.config
        betas = tuple(cfg.betas)
        code = [Player("code_critic", ("code_critic",), lr=cfg.lr, betas=betas, steps=cfg.critic_steps)]
        return [
            Player("critic", ("critic",), lr=cfg.lr, betas=betas, steps=cfg.critic_steps),
            *(code if cfg.code_critic else []),
            Player("autoencoder", ("encoder", "generator"), lr=cfg.lr, betas=betas),
        ]

    def loss(self, player: str, batch: Tensor) -> dict[str, Tensor]:
        cfg = self.config
        z_prior = self.prior(batch.shape[0], batch)
        if player == "critic":
            with torch.no_grad():
                mu, logvar = self.encoder(batch)
                fakes = self.generator(torch.cat([self.reparameterize(mu, logvar), z_prior]))
            return self.adversarial.discriminator_loss(self.critic, batch, fakes)
        if player == "code_critic" and cfg.code_critic:
            with torch.no_grad():
                z_x = self.reparameterize(*self.encoder(batch))
            return self.adversarial.discriminator_loss(self.code_critic, z_prior, z_x)
        check_player(self, player, "autoencoder")
        mu, logvar = self.encoder(batch)
        # One generator pass over [z_x; z]: batch norm then normalises reconstructions and prior
        # samples with the same statistics, as its running averages will at sampling time.
        z_x = self.reparameterize(mu, logvar)
        pre = self.generator.pre_tanh(torch.cat([z_x, z_prior]))
        rec = self.reconstruction(pre[: batch.shape[0]], batch)
        if cfg.code_critic:  # -E[C(z_x)]: the code critic's estimate of W(q(z), p(z)) replaces KL
            divergence, kl = "code", self.adversarial.generator_loss(self.code_critic(z_x))
        else:
            divergence, kl = "kl", self.divergence(mu, logvar)
        fakes = pre.tanh()
        adv = self.adversarial.generator_loss(self.critic(fakes))
        loss = cfg.rec_weight * rec + cfg.kl_weight * kl + cfg.adversarial_weight * adv
        return {"loss": loss, "reconstruction": rec.detach(), divergence: kl.detach(), "adversarial": adv.detach()}


def build(config: GVAEConfig, data_shape: Sequence[int]) -> GVAE:
    """Factory named in the plugin's ModelSpec."""
    return GVAE(config, data_shape)
