"""Divergence to the prior: ``kl-normal``.

Interface::

    value = kl(mu, logvar)             # scalar: mean over the batch
    per = kl.per_sample(mu, logvar)    # (B,)

KL(N(mu, diag(sigma^2)) || N(0, I)) = 1/2 * sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2)
(Kingma & Welling 2014, appendix B), summed over the latent dimensions of each sample and averaged
over the batch with ``reduction="sum"`` (the ELBO's term). ``"mean"`` averages over latent elements
instead, like Kwon's VAE-GAN baseline (REFERENCE.md sec. 1.5).
"""

from __future__ import annotations

from torch import Tensor

from genzoo.errors import GenzooError
from genzoo_losses.configs import KLNormalConfig


class KLNormal:
    """KL divergence of a diagonal Gaussian posterior from the standard normal prior."""

    role = "divergence"
    name = "kl-normal"

    def __init__(self, config: KLNormalConfig | None = None) -> None:
        self.config = config if config is not None else KLNormalConfig()
        if self.config.reduction not in ("sum", "mean"):
            raise GenzooError(f"kl-normal: reduction must be 'sum' or 'mean', got {self.config.reduction!r}")

    def per_sample(self, mu: Tensor, logvar: Tensor) -> Tensor:
        """KL of each sample, shape (B,)."""
        if mu.shape != logvar.shape:
            raise GenzooError(f"mu {tuple(mu.shape)} and logvar {tuple(logvar.shape)} differ in shape")
        mu, logvar = mu.float(), logvar.float()
        values = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).flatten(1)
        return values.sum(dim=1) if self.config.reduction == "sum" else values.mean(dim=1)

    def __call__(self, mu: Tensor, logvar: Tensor) -> Tensor:
        return self.per_sample(mu, logvar).mean()
