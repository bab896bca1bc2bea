"""``vae``: Kingma & Welling (2014), Auto-Encoding Variational Bayes.

Per sample x (B samples, mean over the batch), with q(z|x) = N(mu(x), diag sigma^2(x)):

    L = E_{z ~ q}[-log p(x|z)] + beta * KL(q(z|x) || N(0, I))                     (beta = 1: -ELBO)

estimated with one reparameterised sample z = mu + sigma*eps. -log p(x|z) is the
``loss.reconstruction`` plugin summed over every pixel (``bernoulli`` on (x+1)/2 by default, or
``gaussian`` with fixed sigma), and KL is ``kl-normal`` summed over the latent dimensions; both are
averaged over the batch (not a mean-MSE with a tiny KL weight). The logged ``elbo`` is -L at beta=1.

Likelihood evaluation (``decoder_log_prob``) uses the same observation model as training.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from genzoo.model import Player
from genzoo_models.common import LatentModel, check_player
from genzoo_models.configs import VAEConfig


class VAE(LatentModel):
    """Encoder q(z|x) and decoder p(x|z), one player."""

    capabilities = frozenset({"encoder"})

    def __init__(self, config: VAEConfig, data_shape: Sequence[int]) -> None:
        super().__init__(config, data_shape)
        self.reconstruction = self._loss("reconstruction")
        self.divergence = self._loss("divergence")
        self.observation = self.reconstruction
        self._build_gaussian_encoder()
        self._build_generator()

    def players(self) -> list[Player]:
        cfg = self.config
        return [Player("vae", ("encoder", "generator"), lr=cfg.lr, betas=tuple(cfg.betas))]

    def loss(self, player: str, batch: Tensor) -> dict[str, Tensor]:
        check_player(self, player, "vae")
        mu, logvar = self.encoder(batch)
        z = self.reparameterize(mu, logvar)
        rec = self.reconstruction(self.generator.pre_tanh(z), batch)
        kl = self.divergence(mu, logvar)
        return {"loss": rec + self.config.beta * kl, "reconstruction": rec.detach(), "kl": kl.detach(),
                "elbo": -(rec + kl).detach()}


def build(config: VAEConfig, data_shape: Sequence[int]) -> VAE:
    """Factory named in the plugin's ModelSpec."""
    return VAE(config, data_shape)
