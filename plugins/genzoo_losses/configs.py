"""Config dataclasses of the first-party losses (light: no torch import).

Every field is documented with :func:`genzoo.config.doc`, so ``genzoo info <loss>`` prints it and a
model's nested ``loss`` table or ``--set`` can change it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from genzoo.config import doc

Reduction = Literal["sum", "mean"]


@dataclass
class AdversarialConfig:
    """Settings shared by the adversarial losses (``wasserstein-gp``, ``non-saturating``, ``hinge``)."""

    gp_weight: float = doc(
        "lambda of the gradient penalty lambda*E[(||grad D(x_hat)||_2 - 1)^2] added to the "
        "discriminator loss; 0 disables it",
        0.0,
    )


@dataclass
class WassersteinGPConfig(AdversarialConfig):
    """WGAN-GP critic loss (Gulrajani et al. 2017)."""

    gp_weight: float = doc("lambda of the gradient penalty (the paper's 10)", 10.0)


@dataclass
class NonSaturatingConfig(AdversarialConfig):
    """Standard GAN loss with the non-saturating generator (Goodfellow et al. 2014)."""

    generator_form: Literal["log", "logit"] = doc(
        "generator term: 'log' = -log D(fake) (non-saturating); 'logit' = -log(D/(1-D)) = -logit, "
        "the log-ratio of alpha-GAN (Rosca et al. 2017, Algorithm 1)",
        "log",
    )


@dataclass
class HingeConfig(AdversarialConfig):
    """Hinge loss (Lim & Ye 2017; Miyato et al. 2018)."""


@dataclass
class CodeDiscriminatorConfig:
    """alpha-GAN code discriminator: prior codes are 'real', encoded codes are 'fake'."""

    gp_weight: float = doc("optional gradient penalty on the code discriminator; 0 disables it", 0.0)
    encoder_form: Literal["log", "logit"] = doc(
        "encoder term: 'log' = -log C(z_enc); 'logit' = -log(C/(1-C)), the paper's log-ratio", "log"
    )


@dataclass
class L1Config:
    """L1 reconstruction |x - x_rec|."""

    reduction: Reduction = doc(
        "'sum': sum over pixels/voxels per sample, then mean over the batch; 'mean': mean over all elements",
        "sum",
    )
    scale: float = doc("Laplace scale b used by log_prob (likelihood evaluation only)", 0.1)


@dataclass
class GaussianConfig:
    """Gaussian observation model N(x; mean, sigma^2 I)."""

    sigma: float = doc("fixed standard deviation of every pixel/voxel, on the [-1, 1] scale", 0.1)
    reduction: Reduction = doc(
        "'sum': negative log-likelihood summed per sample, mean over the batch; 'mean': mean over elements",
        "sum",
    )


@dataclass
class BernoulliConfig:
    """Bernoulli observation model on y = (x + 1) / 2 with probability (mean + 1) / 2."""

    reduction: Reduction = doc(
        "'sum': negative log-likelihood summed per sample, mean over the batch; 'mean': mean over elements",
        "sum",
    )


@dataclass
class KLNormalConfig:
    """KL(q(z|x) || N(0, I)) for a diagonal Gaussian posterior."""

    reduction: Reduction = doc(
        "'sum': summed over latent dimensions, mean over the batch; 'mean': mean over all elements", "sum"
    )
