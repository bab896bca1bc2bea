"""``avb``: Mescheder, Nowozin & Geiger (ICML 2017), Adversarial Variational Bayes: Unifying
Variational Autoencoders and Generative Adversarial Networks (arXiv:1701.04722).

An implicit (black-box) encoder z = E(x, eps), eps ~ N(0, I), whose density q(z|x) is never
written down, a decoder p(x|z) (the generator G) and a discriminator T(x, z). T is trained with
the logistic loss to tell pairs (x, z ~ q(z|x)) from pairs (x, z ~ p(z)) (the paper's eq. 3.3):

    L_T  = -E_{x, z~q}[log sigma(T(x, z))] - E_{x, z~p}[log(1 - sigma(T(x, z)))]

whose optimum is T*(x, z) = log q(z|x) - log p(z) (Prop. 1), so E_q[T*] = KL(q(z|x) || p(z)) and
the encoder+decoder player maximises the AVB ELBO (eq. 3.7; Algorithm 1's two gradient lines for
theta and phi, with T held fixed):

    L_EG = E_{eps}[ -log p(x | E(x, eps)) + beta * T(x, E(x, eps)) ]                (beta = 1)

-log p(x|z) is ``loss.reconstruction`` (Bernoulli on (x+1)/2, summed per sample), T's loss is
``loss.adversarial`` (the logistic ``non-saturating`` loss with q-pairs as "real"); every term is
averaged over the batch. Choices (the paper's code, LMescheder/AdversarialVariationalBayes, in
brackets where it differs):

* Encoder: a conv trunk h(x) (``build_encoder``), then a head where eps enters twice:
  u1 = lrelu(h + A eps), u2 = lrelu(W u1 + B eps), z = V u2 [the code adds a linear map of eps
  after every conv stage]. The trunk runs once per image, so K samples of one image cost K heads.
* T(x, z) = MLP([f(x), z]) with f a conv trunk from ``build_encoder`` and no normalisation
  [the code uses f(x).g(z) + T_x(x) + T_z(z) with 8192-wide inner products].
* Latent 8, noise 16, Adam betas (0.5, 0.999), T at twice the encoder's lr (the code's MNIST
  settings), but lr 5e-4 / 1e-3 [1e-4 / 2e-4] for the 2000-step CPU budget (MODELS.md); no
  adaptive contrast (the code pairs it with 32-dimensional latents).

Evaluation contract: ``encode(x)`` returns the moment-matched Gaussian N(mu, diag s^2) of
K = ``encode_samples`` encoder draws (per-dimension sample mean and unbiased variance, variance
floored at 1e-6). The draws use a fixed noise seed, so ``encode`` is a deterministic function of x.
The IWAE bound log (1/k) sum_i p(x, z_i) / r(z_i|x), z_i ~ r, is a valid lower bound on log p(x)
for *any* proposal r with full support, so with this Gaussian r the likelihood metrics remain
lower bounds on the model's log p(x) (looser than with q itself; their ``elbo``/``kl`` are those
of r, not of the implicit q). ``reconstruct`` decodes the mean code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.errors import ConfigError
from genzoo.model import Player
from genzoo_models.common import LatentModel, check_player
from genzoo_models.configs import AVBConfig, NetConfig
from genzoo_models.nets import CodeDiscriminator, NetPlan, build_encoder, discriminator_plan

#: floor of the moment-matched variance (an encoder that ignores eps in a dimension gives 0)
MIN_VARIANCE = 1e-6
#: seed of the fixed noise draws behind ``encode`` (deterministic evaluation)
ENCODE_SEED = 0


class ImplicitEncoder(nn.Module):
    """z = E(x, eps): conv features h(x), then a two-layer head with eps added before each nonlinearity."""

    def __init__(self, p: NetPlan, cfg: NetConfig, latent_dim: int, noise_dim: int, hidden: int) -> None:
        super().__init__()
        self.noise_dim = noise_dim
        self.trunk = build_encoder(p, cfg, cfg.encoder_width, hidden, cfg.encoder_norm)
        self.noise_in = nn.Linear(noise_dim, hidden, bias=False)  # the trunk's head already has a bias
        self.mix = nn.Linear(hidden, hidden)
        self.noise_mid = nn.Linear(noise_dim, hidden, bias=False)
        self.out = nn.Linear(hidden, latent_dim)

    def head(self, h: Tensor, eps: Tensor) -> Tensor:
        """Codes for features ``h`` (..., hidden) and noise ``eps`` (..., noise_dim)."""
        u = F.leaky_relu(h + self.noise_in(eps), 0.2)
        u = F.leaky_relu(self.mix(u) + self.noise_mid(eps), 0.2)
        return self.out(u)

    def forward(self, x: Tensor, eps: Tensor | None = None) -> Tensor:
        h = self.trunk(x)
        if eps is None:
            eps = torch.randn((x.shape[0], self.noise_dim), device=h.device, dtype=h.dtype)
        return self.head(h, eps)

    def draws(self, x: Tensor, samples: int, generator: torch.Generator | None = None) -> Tensor:
        """``samples`` codes per image, shape (samples, B, latent_dim); the trunk runs once."""
        h = self.trunk(x)
        eps = torch.randn((samples, 1, self.noise_dim), generator=generator).to(h)
        return self.head(h.unsqueeze(0).expand(samples, -1, -1), eps.expand(-1, h.shape[0], -1))


class JointDiscriminator(nn.Module):
    """T(x, z) = MLP([f(x), z]) -> one logit per pair, f a conv trunk of the image."""

    def __init__(self, p: NetPlan, cfg: NetConfig, latent_dim: int, hidden: int, depth: int) -> None:
        super().__init__()
        self.features = build_encoder(
            discriminator_plan(p, cfg), cfg, cfg.discriminator_width, hidden, cfg.discriminator_norm
        )
        self.joint = CodeDiscriminator(hidden + latent_dim, hidden, depth)

    def scorer(self, x: Tensor) -> Callable[[Tensor], Tensor]:
        """z -> T(x, z) for a fixed image batch, its features computed once."""
        f = self.features(x)
        return lambda z: self.joint(torch.cat([f, z], dim=1))

    def forward(self, x: Tensor, z: Tensor) -> Tensor:
        return self.scorer(x)(z)


class AVB(LatentModel):
    """Discriminator T(x, z) player, then the encoder+decoder player."""

    capabilities = frozenset({"encoder"})

    def __init__(self, config: AVBConfig, data_shape: Sequence[int]) -> None:
        super().__init__(config, data_shape)
        for name in ("noise_dim", "encoder_hidden", "discriminator_hidden", "discriminator_depth"):
            if getattr(config, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(config, name)}")
        if config.encode_samples < 2:
            raise ConfigError(f"encode_samples must be >= 2 (a variance needs two draws), got {config.encode_samples}")
        self.reconstruction = self._loss("reconstruction")
        self.adversarial = self._loss("adversarial")
        if getattr(self.adversarial, "name", "") != "non-saturating":
            raise ConfigError(
                f"loss.adversarial={config.loss.adversarial!r}: avb needs the logistic loss non-saturating, "
                "whose optimum T* = log q(z|x) - log p(z) makes E_q[T] the KL term"
            )
        self.observation = self.reconstruction
        self.encoder = ImplicitEncoder(self.plan, config.net, config.latent_dim, config.noise_dim, config.encoder_hidden)
        self._build_generator()
        self.discriminator = JointDiscriminator(
            self.plan, config.net, config.latent_dim, config.discriminator_hidden, config.discriminator_depth
        )

    def players(self) -> list[Player]:
        cfg = self.config
        betas = tuple(cfg.betas)
        return [
            Player("discriminator", ("discriminator",), lr=cfg.discriminator_lr, betas=betas,
                   steps=cfg.discriminator_steps),
            Player("autoencoder", ("encoder", "generator"), lr=cfg.lr, betas=betas),
        ]

    def discriminator_loss(self, x: Tensor, z_posterior: Tensor, z_prior: Tensor) -> dict[str, Tensor]:
        """L_T on pairs (x, z_posterior) labelled 1 and (x, z_prior) labelled 0."""
        return self.adversarial.discriminator_loss(self.discriminator.scorer(x), z_posterior, z_prior)

    def loss(self, player: str, batch: Tensor) -> dict[str, Tensor]:
        if player == "discriminator":
            with torch.no_grad():
                z_q = self.encoder(batch)
            return self.discriminator_loss(batch, z_q, self.prior(batch.shape[0], batch))
        check_player(self, player, "autoencoder")
        z_q = self.encoder(batch)
        rec = self.reconstruction(self.generator.pre_tanh(z_q), batch)
        kl = self.discriminator(batch, z_q).mean()  # E_q[T(x, z)], the estimate of KL(q(z|x) || p(z))
        loss = rec + self.config.kl_weight * kl
        return {"loss": loss, "reconstruction": rec.detach(), "kl": kl.detach(), "elbo": -(rec + kl).detach()}

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Moment-matched Gaussian (mu, log s^2) of K fixed-seed encoder draws (see the module docstring)."""
        generator = torch.Generator().manual_seed(ENCODE_SEED)
        z = self.encoder.draws(x, self.config.encode_samples, generator)
        return z.mean(0), z.var(0).clamp_min(MIN_VARIANCE).log()


def build(config: AVBConfig, data_shape: Sequence[int]) -> AVB:
    """Factory named in the plugin's ModelSpec."""
    return AVB(config, data_shape)
