"""alpha-GAN's code discriminator loss: ``code-discriminator``.

Interface::

    terms = loss.discriminator_loss(code_critic, prior_codes, encoded_codes)  # terms["loss"]
    e = loss.encoder_loss(encoded_scores)                                       # scalar

With z ~ N(0, I) (prior, labelled "real") and z^ = E(x) (encoded, labelled "fake"), and C returning
logits (Rosca et al. 2017, Algorithm 1, with the prior/posterior terms the right way round: arXiv v1
eqs. 16-17 had them swapped, REFERENCE.md sec. 1.4):

    L_C = -E[log C(z)] - E[log(1 - C(z^))] = E[softplus(-c(z))] + E[softplus(c(z^))]
    L_E (code part) = -E[log C(z^)] = E[softplus(-c(z^))]          (encoder_form="log", default)
                    = -E[log(C(z^)/(1 - C(z^)))] = -E[c(z^)]        (encoder_form="logit", the paper's)

where c is the logit and C = sigmoid(c). The default is the non-saturating "log" form, as in
victor-shepardson/alpha-GAN: the log-ratio is unbounded below and lets the encoder run away when
C is confident. An optional gradient penalty (``gp_weight``) on the flattened code gradient is
available (Kwon's alpha-WGAN uses one).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from genzoo.errors import GenzooError
from genzoo_losses.adversarial import Critic, gradient_penalty, per_sample_scores
from genzoo_losses.configs import CodeDiscriminatorConfig


class CodeDiscriminatorLoss:
    """Cross-entropy between prior codes ("real") and encoded codes ("fake")."""

    role = "code"
    name = "code-discriminator"

    def __init__(self, config: CodeDiscriminatorConfig | None = None) -> None:
        self.config = config if config is not None else CodeDiscriminatorConfig()
        if self.config.gp_weight < 0:
            raise GenzooError(f"code-discriminator: gp_weight must be >= 0, got {self.config.gp_weight}")

    def discriminator_loss(self, code_critic: Critic, prior_codes: Tensor, encoded_codes: Tensor) -> dict[str, Tensor]:
        """Loss terms of the code discriminator; ``encoded_codes`` is detached here."""
        encoded_codes = encoded_codes.detach()
        prior_scores = per_sample_scores(code_critic(prior_codes))
        encoded_scores = per_sample_scores(code_critic(encoded_codes))
        loss = F.softplus(-prior_scores).mean() + F.softplus(encoded_scores).mean()
        terms = {"prior_score": prior_scores.mean().detach(), "encoded_score": encoded_scores.mean().detach()}
        if self.config.gp_weight > 0:
            penalty = gradient_penalty(code_critic, prior_codes, encoded_codes)
            loss = loss + self.config.gp_weight * penalty
            terms["gradient_penalty"] = penalty.detach()
        terms["loss"] = loss
        return terms

    def encoder_loss(self, encoded_scores: Tensor) -> Tensor:
        """The encoder's term: make encoded codes look like prior codes to C."""
        scores = per_sample_scores(encoded_scores)
        if self.config.encoder_form == "logit":
            return -scores.mean()
        return F.softplus(-scores).mean()
