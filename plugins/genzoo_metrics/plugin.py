"""Entry module of the first-party metrics plugin: metric specs and the ``train-classifier`` and
``report`` commands. Imports nothing heavy; factories and configs are named as strings."""

from __future__ import annotations

from typing import Any

from genzoo.hookspecs import hookimpl
from genzoo.specs import MetricSpec

_CONFIGS = "genzoo_metrics.configs"


@hookimpl
def genzoo_metrics() -> list[MetricSpec]:
    """The first-party metrics (definitions in METRICS.md)."""
    likelihood = f"{_CONFIGS}:LikelihoodConfig"
    return [
        MetricSpec(
            name="mmd",
            factory="genzoo_metrics.mmd:GaussianMMD",
            summary="unbiased Gaussian-kernel MMD² (median bandwidth fixed on real data), pixels or features",
            config=f"{_CONFIGS}:MMDConfig",
            tags=("distribution",),
            higher_is_better=False,
        ),
        MetricSpec(
            name="mmd-linear",
            factory="genzoo_metrics.mmd:LinearMMD",
            summary="Kwon et al. 2019 batch-wise linear-kernel MMD on pixels (the paper's table layout)",
            config=f"{_CONFIGS}:LinearMMDConfig",
            tags=("distribution", "paper"),
            higher_is_better=False,
        ),
        MetricSpec(
            name="ms-ssim",
            factory="genzoo_metrics.msssim:MSSSIMDiversity",
            summary="MS-SSIM diversity: mean over random generated pairs, beside the real-pair value",
            config=f"{_CONFIGS}:MSSSIMConfig",
            tags=("diversity",),
            higher_is_better=None,
        ),
        MetricSpec(
            name="fid",
            factory="genzoo_metrics.fid:FID",
            summary="Fréchet distance on feature-network activations, with the real-vs-real floor",
            config=f"{_CONFIGS}:FIDConfig",
            tags=("distribution", "features"),
            higher_is_better=False,
        ),
        MetricSpec(
            name="kid",
            factory="genzoo_metrics.fid:KID",
            summary="kernel (polynomial MMD²) distance on feature-network activations, mean ± std over subsets",
            config=f"{_CONFIGS}:KIDConfig",
            tags=("distribution", "features"),
            higher_is_better=False,
        ),
        MetricSpec(
            name="class-coverage",
            factory="genzoo_metrics.class_coverage:ClassCoverage",
            summary="share of samples the data set's classifier recognises (p >= 0.9), class histogram, KL to uniform",
            config=f"{_CONFIGS}:ClassCoverageConfig",
            tags=("coverage", "features"),
            higher_is_better=True,
        ),
        MetricSpec(
            name="precision-recall",
            factory="genzoo_metrics.precision_recall:PrecisionRecall",
            summary="improved precision and recall (k-NN radii, k = 3) on feature-net activations, with real-vs-real",
            config=f"{_CONFIGS}:PrecisionRecallConfig",
            tags=("distribution", "coverage", "features"),
            higher_is_better=True,
        ),
        MetricSpec(
            name="sharpness",
            factory="genzoo_metrics.sharpness:Sharpness",
            summary="mean variance of the Laplacian of [0, 1] samples, beside the real held-out value",
            config=f"{_CONFIGS}:SharpnessConfig",
            tags=("sharpness",),
            higher_is_better=None,
        ),
        MetricSpec(
            name="log-likelihood",
            factory="genzoo_metrics.likelihood:log_likelihood",
            summary="IWAE bound on log p(x) per image (nats), k importance samples",
            config=likelihood,
            tags=("likelihood",),
            higher_is_better=True,
            requires=("encoder",),
        ),
        MetricSpec(
            name="elbo",
            factory="genzoo_metrics.likelihood:elbo",
            summary="evidence lower bound per image (nats)",
            config=likelihood,
            tags=("likelihood",),
            higher_is_better=True,
            requires=("encoder",),
        ),
        MetricSpec(
            name="kl",
            factory="genzoo_metrics.likelihood:kl",
            summary="KL(q(z|x) || N(0, I)) per image (nats)",
            config=likelihood,
            tags=("likelihood",),
            higher_is_better=None,
            requires=("encoder",),
        ),
        MetricSpec(
            name="recon-error",
            factory="genzoo_metrics.likelihood:recon_error",
            summary="reconstruction error: minus the expected log p(x|z) under q(z|x), per image (nats)",
            config=likelihood,
            tags=("likelihood",),
            higher_is_better=False,
            requires=("encoder",),
        ),
    ]


@hookimpl
def genzoo_commands(app: Any, groups: dict[str, Any]) -> None:
    """Add ``genzoo train-classifier`` and ``genzoo report``."""
    from genzoo_metrics.commands import register

    register(app)
