"""Adversarial losses: ``wasserstein-gp``, ``non-saturating`` and ``hinge``.

Interface (one for the whole role, so a model swaps them by name)::

    terms = loss.discriminator_loss(critic, real, fake)   # dict; terms["loss"] is minimised
    g = loss.generator_loss(fake_scores)                   # scalar the generator minimises

``critic`` maps a batch to raw, unbounded scores (logits for the non-saturating loss); there is
never a sigmoid inside the network. ``fake`` may hold k times as many samples as ``real`` (for
example reconstructions and prior samples concatenated): real and fake terms are each averaged
over their own samples, and the gradient penalty pairs fake sample ``i`` with real sample
``i mod B``. Everything is a mean over the batch (scores are one number per sample).

With s = D(x) on real x and t = D(x~) on fakes:

* wasserstein-gp (Gulrajani et al. 2017, Alg. 1):  L_D = E[t] - E[s] + lambda*GP,  L_G = -E[t]
* non-saturating (Goodfellow et al. 2014, sec. 3):  L_D = E[softplus(-s)] + E[softplus(t)]
  (= -E log sigmoid(s) - E log(1 - sigmoid(t))),  L_G = E[softplus(-t)] = -E log D(x~); with
  ``generator_form="logit"`` L_G = -E[t] = -E log(D/(1-D)), alpha-GAN's log-ratio.
* hinge (Lim & Ye 2017; Miyato et al. 2018):  L_D = E[relu(1 - s)] + E[relu(1 + t)],  L_G = -E[t]

GP = E[(||grad_x D(x^)||_2 - 1)^2] with x^ = eps*x + (1-eps)*x~ and one eps ~ U[0,1] per sample;
the norm is taken over the flattened per-sample gradient, so it is the same for images
(B,C,H,W), volumes (B,C,D,H,W) and latent codes (B,Z) (Kwon's 3D baseline took the norm over the
channel axis only: REFERENCE.md sec. 1.3). It runs in fp32 with autocast disabled, because the
double backward overflows in fp16 (StudioGAN issue #175).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.errors import GenzooError
from genzoo_losses.configs import AdversarialConfig, HingeConfig, NonSaturatingConfig, WassersteinGPConfig

Critic = Callable[[Tensor], Tensor]


def per_sample_scores(scores: Tensor) -> Tensor:
    """Scores of shape (B,), (B, 1) or (B, ...) (patch scores) as one float32 number per sample."""
    return scores.reshape(scores.shape[0], -1).float().mean(dim=1)


def _pair_real_with_fake(real: Tensor, fake: Tensor) -> Tensor:
    """Repeat ``real`` along the batch so it has one partner for every fake sample."""
    if real.shape[1:] != fake.shape[1:]:
        raise GenzooError(f"real and fake samples differ in shape: {tuple(real.shape)} vs {tuple(fake.shape)}")
    if fake.shape[0] % real.shape[0]:
        raise GenzooError(
            f"the fake batch ({fake.shape[0]}) must be a multiple of the real batch ({real.shape[0]})"
        )
    return real.repeat(fake.shape[0] // real.shape[0], *([1] * (real.dim() - 1)))


def batch_independent(critic: Critic) -> bool:
    """Whether the critic scores each sample on its own (no batch norm anywhere inside it)."""
    if not isinstance(critic, nn.Module):
        return False
    return not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in critic.modules())


def score_real_and_fake(critic: Critic, real: Tensor, fake: Tensor) -> tuple[Tensor, Tensor]:
    """Per-sample scores of ``real`` and ``fake``; one critic call on both when that is safe.

    A critic without batch norm gives every sample the same score whether it is scored alone or
    with others, so one forward (and backward) pass over cat([real, fake]) replaces two half-size
    ones: fewer kernel launches and better-filled GEMMs. With batch norm, real and fake batches
    are normalised separately, as the model was designed.
    """
    if batch_independent(critic) and real.shape[1:] == fake.shape[1:] and real.dtype == fake.dtype:
        scores = per_sample_scores(critic(torch.cat([real, fake])))
        return scores[: real.shape[0]], scores[real.shape[0] :]
    return per_sample_scores(critic(real)), per_sample_scores(critic(fake))


@contextmanager
def eager(critic: Critic) -> Iterator[Critic]:
    """``critic`` with every ``torch.compile``d part running eagerly inside the block.

    The penalty differentiates the critic's input gradient (``create_graph=True``), and a backward
    compiled by AOTAutograd is not differentiable: it donates its buffers and raises, or in some
    torch versions silently drops the second-order terms (pytorch/pytorch#181581). The critic's
    ordinary real/fake scores keep the compiled path.
    """
    critic = getattr(critic, "_orig_mod", critic)  # a torch.compile(module) wrapper (not importing dynamo here)
    compiled = [m for m in critic.modules() if getattr(m, "_compiled_call_impl", None) is not None] \
        if isinstance(critic, nn.Module) else []  # nn.Module.compile() in place
    saved = [m._compiled_call_impl for m in compiled]
    for m in compiled:
        m._compiled_call_impl = None
    try:
        yield critic
    finally:
        for m, impl in zip(compiled, saved):
            m._compiled_call_impl = impl


def gradient_penalty(critic: Critic, real: Tensor, fake: Tensor) -> Tensor:
    """E[(||grad D(x^)||_2 - 1)^2] on per-sample interpolates, in fp32 (see module docstring)."""
    real = _pair_real_with_fake(real.detach(), fake.detach())
    with torch.autocast(device_type=real.device.type, enabled=False), eager(critic) as critic:
        real32, fake32 = real.float(), fake.detach().float()
        eps = torch.rand((real32.shape[0],) + (1,) * (real32.dim() - 1), device=real32.device)
        mixed = (eps * real32 + (1.0 - eps) * fake32).requires_grad_(True)
        scores = per_sample_scores(critic(mixed))
        (grad,) = torch.autograd.grad(scores.sum(), mixed, create_graph=True)
        # sqrt(sum g^2 + tiny) keeps the backward finite where a gradient is exactly zero.
        norms = torch.sqrt(grad.flatten(1).pow(2).sum(dim=1) + 1e-12)
        return (norms - 1.0).pow(2).mean()


class AdversarialLoss(ABC):
    """Base class: subclasses define :meth:`_discriminator_terms` and :meth:`generator_loss`."""

    role = "adversarial"
    name = "adversarial"
    #: True when adding a constant to every score changes no loss (Wasserstein): a critic's
    #: output bias would then get no gradient, so models build the critic head without one.
    shift_invariant = False

    def __init__(self, config: AdversarialConfig | None = None) -> None:
        self.config = config if config is not None else AdversarialConfig()
        if self.config.gp_weight < 0:
            raise GenzooError(f"{self.name}: gp_weight must be >= 0, got {self.config.gp_weight}")

    @property
    def uses_gradient_penalty(self) -> bool:
        return self.config.gp_weight > 0

    @abstractmethod
    def _discriminator_terms(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        """Implemented by each concrete loss."""

    def discriminator_loss(self, critic: Critic, real: Tensor, fake: Tensor) -> dict[str, Tensor]:
        """Loss terms of the discriminator/critic; ``fake`` is detached here."""
        fake = fake.detach()
        real_scores, fake_scores = score_real_and_fake(critic, real, fake)
        loss = self._discriminator_terms(real_scores, fake_scores)
        terms = {"real_score": real_scores.mean().detach(), "fake_score": fake_scores.mean().detach()}
        if self.uses_gradient_penalty:
            penalty = gradient_penalty(critic, real, fake)
            loss = loss + self.config.gp_weight * penalty
            terms["gradient_penalty"] = penalty.detach()
        terms["loss"] = loss
        return terms

    @abstractmethod
    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        """Implemented by each concrete loss."""


class WassersteinGP(AdversarialLoss):
    """WGAN-GP: L_D = E[D(fake)] - E[D(real)] + lambda*GP, L_G = -E[D(fake)]."""

    name = "wasserstein-gp"
    shift_invariant = True

    def __init__(self, config: WassersteinGPConfig | None = None) -> None:
        super().__init__(config if config is not None else WassersteinGPConfig())

    def _discriminator_terms(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return fake_scores.mean() - real_scores.mean()

    def discriminator_loss(self, critic: Critic, real: Tensor, fake: Tensor) -> dict[str, Tensor]:
        terms = super().discriminator_loss(critic, real, fake)
        terms["wasserstein"] = terms["real_score"] - terms["fake_score"]
        return terms

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        return -per_sample_scores(fake_scores).mean()


class NonSaturating(AdversarialLoss):
    """Cross-entropy GAN loss on logits with the non-saturating (or log-ratio) generator term."""

    name = "non-saturating"

    def __init__(self, config: NonSaturatingConfig | None = None) -> None:
        super().__init__(config if config is not None else NonSaturatingConfig())

    def _discriminator_terms(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return F.softplus(-real_scores).mean() + F.softplus(fake_scores).mean()

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        scores = per_sample_scores(fake_scores)
        if getattr(self.config, "generator_form", "log") == "logit":
            return -scores.mean()
        return F.softplus(-scores).mean()


class Hinge(AdversarialLoss):
    """Hinge loss: L_D = E[relu(1 - D(real))] + E[relu(1 + D(fake))], L_G = -E[D(fake)]."""

    name = "hinge"

    def __init__(self, config: HingeConfig | None = None) -> None:
        super().__init__(config if config is not None else HingeConfig())

    def _discriminator_terms(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        return F.relu(1.0 - real_scores).mean() + F.relu(1.0 + fake_scores).mean()

    def generator_loss(self, fake_scores: Tensor) -> Tensor:
        return -per_sample_scores(fake_scores).mean()
