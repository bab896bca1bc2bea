"""Fréchet distance (FID) and KID on feature-network activations.

FID (Heusel et al. 2017) between Gaussian fits (μ_r, Σ_r), (μ_g, Σ_g) of real and generated
features, with unbiased (N-1) covariances as in torchmetrics:

    FID = ‖μ_r - μ_g‖² + Tr(Σ_r) + Tr(Σ_g) - 2 Tr((Σ_r Σ_g)^{1/2})

Tr((Σ_r Σ_g)^{1/2}) = Σ sqrt(λ_i) over the eigenvalues λ_i of the symmetric PSD matrix
Σ_r^{1/2} Σ_g Σ_r^{1/2} (same spectrum as Σ_r Σ_g), in float64 with negative round-off clamped,
so no complex sqrtm is needed. FID is biased and depends on N (Chong & Forsyth 2020): compare
models at one N, next to the real-vs-real floor (training images vs the held-out split, same N).

KID (Bińkowski et al. 2018): the unbiased MMD² with the cubic kernel (a·b/d + 1)³ averaged over
random subsets; mean ± population std over subsets, as torchmetrics reports it. A subset holds
``subset_size`` samples (1000, as torchmetrics), capped at half of each set so that subsets differ.

Features are a :mod:`genzoo_metrics.classifier` network's penultimate activations, never Inception
(no download offline); values are therefore not comparable with Inception-FID in the literature.
"""

from __future__ import annotations

import torch
from torch import Tensor

from genzoo.errors import ConfigError
from genzoo_metrics.classifier import context_features
from genzoo_metrics.mmd import mmd2_unbiased, polynomial_kernel


def gaussian_stats(features: Tensor) -> tuple[Tensor, Tensor]:
    """Mean and unbiased covariance of (N, d) features, in float64."""
    if features.dim() != 2 or len(features) < 2:
        raise ConfigError(f"fid needs at least 2 feature vectors of shape (N, d), got {tuple(features.shape)}")
    f = features.double()
    mu = f.mean(0)
    centred = f - mu
    return mu, centred.T @ centred / (len(f) - 1)


def _psd_sqrt(matrix: Tensor) -> Tensor:
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp_min(0).sqrt()) @ vectors.T


def frechet_distance(mu1: Tensor, cov1: Tensor, mu2: Tensor, cov2: Tensor) -> float:
    """Fréchet distance between N(mu1, cov1) and N(mu2, cov2)."""
    root = _psd_sqrt(cov1)
    middle = root @ cov2 @ root
    trace_sqrt = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp_min(0).sqrt().sum()
    value = (mu1 - mu2).pow(2).sum() + cov1.trace() + cov2.trace() - 2 * trace_sqrt
    return float(value)


def fid_from_features(real: Tensor, fake: Tensor) -> float:
    """FID between two (N, d) feature sets."""
    return frechet_distance(*gaussian_stats(real), *gaussian_stats(fake))


def kid_from_features(
    real: Tensor,
    fake: Tensor,
    subsets: int,
    subset_size: int,
    generator: torch.Generator,
    degree: int = 3,
    coef: float = 1.0,
) -> tuple[float, float]:
    """KID mean and std over ``subsets`` random subsets of ``subset_size`` from each side."""
    # Subsets hold at most half of each set, so they differ and the std means something.
    size = min(subset_size, len(real) // 2, len(fake) // 2)
    if size < 2:
        raise ConfigError("kid needs at least 4 real and 4 generated samples")
    kernel = polynomial_kernel(real.shape[1], degree, coef)
    real = real.double()
    fake = fake.double()
    values = []
    for _ in range(subsets):
        x = real[torch.randperm(len(real), generator=generator)[:size]]
        y = fake[torch.randperm(len(fake), generator=generator)[:size]]
        values.append(mmd2_unbiased(x, y, kernel, chunk=max(size, 1)))
    scores = torch.tensor(values, dtype=torch.float64)
    return float(scores.mean()), float(scores.std(unbiased=False))


class FID:
    """Metric ``fid``: FID on the feature network's activations, with the real-vs-real floor."""

    def __init__(self, config: object) -> None:
        self.config = config

    def compute(self, context: object) -> dict[str, float]:
        cfg = self.config
        real = context_features(context, cfg.classifier, "real")
        fake = context_features(context, cfg.classifier, "generated")
        n, dim = min(len(real), len(fake)), real.shape[1]
        if n < dim:
            # Below d samples the covariance estimates are singular and FID is strongly biased upward.
            context.notes["fid"] = (  # type: ignore[attr-defined]
                f"warning: FID from N={n} samples, fewer than the {dim} feature dimensions: the covariances "
                f"are singular and the value is biased upward; use -n {dim} or more"
            )
        result = {"fid": fid_from_features(real, fake)}
        if cfg.floor:
            reference = context_features(context, cfg.classifier, "reference")
            if reference is not None:
                n = min(len(reference), len(real))
                result["fid.floor"] = fid_from_features(real[:n], reference[:n])
        return result


class KID:
    """Metric ``kid``: KID mean ± std over random subsets of feature-network activations."""

    def __init__(self, config: object) -> None:
        self.config = config

    def compute(self, context: object) -> dict[str, float]:
        cfg = self.config
        real = context_features(context, cfg.classifier, "real")
        fake = context_features(context, cfg.classifier, "generated")
        generator = context.generator("kid")  # type: ignore[attr-defined]
        mean, std = kid_from_features(real, fake, cfg.subsets, cfg.subset_size, generator, cfg.degree, cfg.coef)
        return {"kid": mean, "kid.std": std}
