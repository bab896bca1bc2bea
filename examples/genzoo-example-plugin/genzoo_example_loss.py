"""The least-squares GAN loss (Mao et al. 2017, eq. 2 with a=0, b=c=1), an ``adversarial`` loss.

With raw critic scores s = D(x) on real images and t = D(x~) on fakes:

    L_D = 1/2 E[(s - 1)^2] + 1/2 E[t^2]        L_G = 1/2 E[(t - 1)^2]

Any model that composes its adversarial loss by name can use it:
``genzoo run wgan-gp --set loss.adversarial=least-squares``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor

from genzoo.config import doc


@dataclass
class LeastSquaresConfig:
    real_target: float = doc("b: the score the critic is pushed to on real images", 1.0)
    fake_target: float = doc("a: the score the critic is pushed to on fakes", 0.0)


def _scores(scores: Tensor) -> Tensor:
    """One float32 score per sample from (B,), (B, 1) or (B, ...) critic outputs."""
    return scores.reshape(scores.shape[0], -1).float().mean(dim=1)


class LeastSquares:
    """The adversarial-role interface: ``discriminator_loss`` and ``generator_loss``."""

    role = "adversarial"
    uses_gradient_penalty = False  # models read these two to build their critic
    shift_invariant = False

    def __init__(self, config: LeastSquaresConfig) -> None:
        self.config = config

    def discriminator_loss(self, critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor) -> dict[str, Tensor]:
        real_scores = _scores(critic(real))
        fake_scores = _scores(critic(fake.detach()))  # the generator must get no gradient here
        loss = 0.5 * (real_scores - self.config.real_target).pow(2).mean()
        loss = loss + 0.5 * (fake_scores - self.config.fake_target).pow(2).mean()
        return {"loss": loss, "real_score": real_scores.mean().detach(), "fake_score": fake_scores.mean().detach()}

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        return 0.5 * (_scores(fake_scores) - self.config.real_target).pow(2).mean()
