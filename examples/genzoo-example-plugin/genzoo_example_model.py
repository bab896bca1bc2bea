"""An MLP adversarial autoencoder (Makhzani et al. 2016) with an extra image critic.

Three players, each with its own parameters:

- ``autoencoder`` (encoder E, decoder G):
  L = λ·mean|x − G(E(x))| − mean C(E(x)) − mean D(G(z)),  z ~ N(0, I)
- ``code_critic`` (C, Wasserstein critic on codes): L = mean C(E(x)) − mean C(z)
- ``image_critic`` (D, Wasserstein critic on images): L = mean D(G(z)) − mean D(x)

Both critics are kept close to 1-Lipschitz by a gradient penalty (weight 1) on random
interpolates, as in WGAN-GP.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from genzoo.config import doc
from genzoo.model import GenerativeModel, Player


@dataclass
class MLPAAEConfig:
    latent_dim: int = doc("Size of the code z.", 16)
    hidden: int = doc("Hidden units in every MLP.", 256)
    reconstruction_weight: float = doc("λ of the L1 reconstruction term.", 10.0)
    penalty_weight: float = doc("Weight of the critics' gradient penalty.", 1.0)
    lr: float = doc("Adam learning rate of every player.", 2e-4)


def _mlp(inputs: int, hidden: int, outputs: int, output_bias: bool = True) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(inputs, hidden), nn.LeakyReLU(0.2),
        nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
        nn.Linear(hidden, outputs, bias=output_bias),
    )


def _penalty(critic: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
    weight = torch.rand(len(real), *([1] * (real.dim() - 1)), device=real.device)
    mixed = (weight * real + (1 - weight) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


class MLPAdversarialAutoencoder(GenerativeModel):
    capabilities = frozenset({"encoder"})

    def __init__(self, config: MLPAAEConfig, data_shape) -> None:
        super().__init__(config, data_shape)
        pixels = int(torch.tensor(self.data_shape).prod())
        self.encoder = _mlp(pixels, config.hidden, 2 * config.latent_dim)
        self.decoder = nn.Sequential(_mlp(config.latent_dim, config.hidden, pixels), nn.Tanh())
        # A Wasserstein critic's output bias cancels out of its loss (zero gradient): leave it out.
        self.code_critic = _mlp(config.latent_dim, config.hidden, 1, output_bias=False)
        self.image_critic = _mlp(pixels, config.hidden, 1, output_bias=False)

    def players(self) -> list[Player]:
        lr, betas = self.config.lr, (0.5, 0.9)
        return [
            Player("autoencoder", ("encoder", "decoder"), lr=lr, betas=betas),
            Player("code_critic", ("code_critic",), lr=lr, betas=betas),
            Player("image_critic", ("image_critic",), lr=lr, betas=betas),
        ]

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, logvar = self.encoder(x.flatten(1)).chunk(2, dim=1)
        return mu, logvar.clamp(-10, 10)

    def _code(self, x: Tensor) -> Tensor:
        mu, logvar = self.encode(x)
        return mu + torch.randn_like(mu) * (0.5 * logvar).exp()

    def generate(self, noise: Tensor) -> Tensor:
        return self.decoder(noise).view(len(noise), *self.data_shape)

    def loss(self, player: str, batch: Tensor) -> dict[str, Tensor]:
        prior = torch.randn(len(batch), self.config.latent_dim, device=batch.device)
        flat = batch.flatten(1)
        if player == "autoencoder":
            code = self._code(batch)
            reconstruction = (self.generate(code) - batch).abs().flatten(1).sum(1).mean()
            fool_codes = -self.code_critic(code).mean()
            fool_images = -self.image_critic(self.generate(prior).flatten(1)).mean()
            loss = self.config.reconstruction_weight * reconstruction / flat.shape[1] + fool_codes + fool_images
            return {"loss": loss, "reconstruction": reconstruction}
        if player == "code_critic":
            code = self._code(batch).detach()
            distance = self.code_critic(prior).mean() - self.code_critic(code).mean()
            return {"loss": -distance + self.config.penalty_weight * _penalty(self.code_critic, prior, code), "distance": distance}
        fake = self.generate(prior).detach().flatten(1)
        distance = self.image_critic(flat).mean() - self.image_critic(fake).mean()
        return {"loss": -distance + self.config.penalty_weight * _penalty(self.image_critic, flat, fake), "distance": distance}
