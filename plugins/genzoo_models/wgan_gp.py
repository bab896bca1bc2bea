"""``wgan-gp``: Gulrajani et al. (2017), Improved Training of Wasserstein GANs.

Critic D (no batch norm) and generator G, z ~ N(0, I):

    L_D = E_z[D(G(z))] - E_x[D(x)] + lambda * E_x^[(||grad D(x^)||_2 - 1)^2],
          x^ = eps*x + (1-eps)*G(z), one eps ~ U[0,1] per sample      (stepped ``critic_steps`` times)
    L_G = -E_z[D(G(z))]                                               (then one generator step)

lambda = 10. The ``paper`` preset is the official MNIST code: 5 critic steps, Adam(1e-4, betas (0.5, 0.9))
(REFERENCE.md sec. 1.3; the paper's Algorithm 1 uses beta1 = 0). The defaults, measured at equal CPU time
(MODELS.md), take 2 critic steps at a critic lr of 4e-4 and a generator lr of 2e-4 (two time-scales).
The critic is 64 wide (the official code's DIM = 64; chosen on three seeds, MODELS.md), the generator
the zoo's shared 32-wide one.
The loss is the ``loss.adversarial`` plugin, so
``--set loss.adversarial=hinge`` trains the same nets with the hinge loss. ``--set augment=translation``
shows the critic randomly shifted real and generated images (DiffAugment; genzoo_models.augment).

No encoder: ``decoder_log_prob`` uses Bernoulli on (x+1)/2 with p = (G(z)+1)/2, for AIS-style
metrics that only need a decoder.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from genzoo.model import Player
from genzoo_models.augment import augment
from genzoo_models.common import LatentModel, check_player
from genzoo_models.configs import WGANGPConfig


class WGANGP(LatentModel):
    """Generator and critic; the critic takes ``critic_steps`` steps per generator step."""

    def __init__(self, config: WGANGPConfig, data_shape: Sequence[int]) -> None:
        super().__init__(config, data_shape)
        self.adversarial = self._loss("adversarial")
        self._build_generator()
        self._build_critic(self.adversarial)
        self._set_observation("bernoulli")

    def players(self) -> list[Player]:
        cfg = self.config
        return [
            Player("critic", ("critic",), lr=cfg.critic_lr, betas=tuple(cfg.betas), steps=cfg.critic_steps),
            Player("generator", ("generator",), lr=cfg.generator_lr, betas=tuple(cfg.betas)),
        ]

    def loss(self, player: str, batch: Tensor) -> dict[str, Tensor]:
        z = self.prior(batch.shape[0], batch)
        kind = self.config.augment
        if player == "critic":
            with torch.no_grad():
                fake = self.generator(z)
            return self.adversarial.discriminator_loss(self.critic, augment(batch, kind), augment(fake, kind))
        check_player(self, player, "generator")
        fake_scores = self.critic(augment(self.generator(z), kind))
        return {"loss": self.adversarial.generator_loss(fake_scores)}


def build(config: WGANGPConfig, data_shape: Sequence[int]) -> WGANGP:
    """Factory named in the plugin's ModelSpec."""
    return WGANGP(config, data_shape)
