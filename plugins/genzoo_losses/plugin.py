"""Entry module of genzoo's first-party losses (registered under the ``genzoo`` entry-point group).

Imports nothing heavy: factories and configs are named as strings and loaded on first use.

Every loss of a role has the same small interface (documented in its module), so a model builds
it by name through ``genzoo.registry.get_registry().build_loss(name)`` and a user swaps it with
``--set loss.adversarial=hinge``:

* adversarial: ``discriminator_loss(critic, real, fake) -> dict``, ``generator_loss(fake_scores)``
* reconstruction: ``loss(pre_tanh, x)``, ``per_sample(pre_tanh, x)``, ``log_prob(pre_tanh, x)``
* divergence: ``kl(mu, logvar)``, ``per_sample(mu, logvar)``
* code: ``discriminator_loss(code_critic, prior_codes, encoded_codes) -> dict``,
  ``encoder_loss(encoded_scores)``
"""

from __future__ import annotations

from genzoo import hookimpl
from genzoo.specs import LossSpec

_PKG = "genzoo_losses"


@hookimpl
def genzoo_losses() -> list[LossSpec]:
    return [
        LossSpec(
            name="wasserstein-gp",
            factory=f"{_PKG}.adversarial:WassersteinGP",
            config=f"{_PKG}.configs:WassersteinGPConfig",
            summary="WGAN-GP critic loss with a per-sample fp32 gradient penalty (lambda=10)",
            tags=("gan", "wasserstein"),
            role="adversarial",
        ),
        LossSpec(
            name="non-saturating",
            factory=f"{_PKG}.adversarial:NonSaturating",
            config=f"{_PKG}.configs:NonSaturatingConfig",
            summary="Cross-entropy GAN loss on logits with the non-saturating -log D(G(z)) generator",
            tags=("gan",),
            role="adversarial",
        ),
        LossSpec(
            name="hinge",
            factory=f"{_PKG}.adversarial:Hinge",
            config=f"{_PKG}.configs:HingeConfig",
            summary="Hinge GAN loss: relu(1 - D(x)) + relu(1 + D(G(z))), generator -D(G(z))",
            tags=("gan",),
            role="adversarial",
        ),
        LossSpec(
            name="l1",
            factory=f"{_PKG}.reconstruction:L1",
            config=f"{_PKG}.configs:L1Config",
            summary="L1 reconstruction |x - x_rec| (Laplace likelihood for evaluation)",
            tags=("pixel",),
            role="reconstruction",
        ),
        LossSpec(
            name="gaussian",
            factory=f"{_PKG}.reconstruction:Gaussian",
            config=f"{_PKG}.configs:GaussianConfig",
            summary="Gaussian decoder likelihood N(x; mean, sigma^2 I), summed per sample",
            tags=("pixel", "likelihood"),
            role="reconstruction",
        ),
        LossSpec(
            name="bernoulli",
            factory=f"{_PKG}.reconstruction:Bernoulli",
            config=f"{_PKG}.configs:BernoulliConfig",
            summary="Bernoulli decoder likelihood on (x+1)/2, summed per sample",
            tags=("pixel", "likelihood"),
            role="reconstruction",
        ),
        LossSpec(
            name="kl-normal",
            factory=f"{_PKG}.divergence:KLNormal",
            config=f"{_PKG}.configs:KLNormalConfig",
            summary="KL(q(z|x) || N(0, I)) summed over latent dimensions, averaged over the batch",
            tags=("vae",),
            role="divergence",
        ),
        LossSpec(
            name="code-discriminator",
            factory=f"{_PKG}.code:CodeDiscriminatorLoss",
            config=f"{_PKG}.configs:CodeDiscriminatorConfig",
            summary="alpha-GAN code discriminator: prior codes real, encoded codes fake (corrected terms)",
            tags=("gan", "latent"),
            role="code",
        ),
    ]
