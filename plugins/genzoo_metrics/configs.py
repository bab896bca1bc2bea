"""Config dataclasses of the first-party metrics (light: no torch, so ``genzoo list`` stays fast).

Every metric is scored on the same shared samples of an :class:`genzoo.evaluation.EvalContext`;
these configs only choose how. Definitions and sources are in ``METRICS.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from genzoo.config import doc


def _at_least(config: object, **minimums: float) -> None:
    """Refuse a value below its minimum with one line (``subsets must be at least 1, got 0``)."""
    for name, minimum in minimums.items():
        value = getattr(config, name)
        if value < minimum:
            raise ValueError(f"{name} must be at least {minimum}, got {value}")


@dataclass
class MMDConfig:
    """Unbiased MMD² (Gretton et al. 2012) with a Gaussian kernel, bandwidth fixed on real data."""

    features: Literal["pixels", "classifier"] = doc(
        "what the kernel compares: flattened pixels, or the feature network's penultimate activations", "pixels"
    )
    bandwidth: float = doc("Gaussian sigma; 0 = median heuristic on the real held-out data", 0.0)
    bandwidth_multipliers: tuple[float, ...] = doc(
        "sum of Gaussian kernels at sigma*m for each m; (0.5, 1.0, 2.0) is the multi-bandwidth option", (1.0,)
    )
    median_subset: int = doc("real samples the median heuristic uses (fixed seed)", 1000)
    chunk_size: int = doc("rows per kernel block; bounds memory at chunk_size² floats", 2048)
    classifier: str = doc("feature network .safetensors for features='classifier'; '' = the shipped one", "")

    def __post_init__(self) -> None:
        _at_least(self, median_subset=2, chunk_size=1, bandwidth=0.0)
        if not self.bandwidth_multipliers or min(self.bandwidth_multipliers) <= 0:
            raise ValueError(f"bandwidth_multipliers must be positive numbers, got {self.bandwidth_multipliers}")


@dataclass
class LinearMMDConfig:
    """Kwon et al. 2019's batch-wise linear-kernel MMD on raw pixels (REFERENCE §1.2)."""

    batch_size: int = doc("B: real and generated samples per batch (Kwon's Test.ipynb uses 1)", 1)
    repeats: int = doc("passes over the real data; the result is mean ± std over passes (Kwon: 100)", 100)
    max_batches: int = doc("batches per pass at most (0 = all real data)", 0)

    def __post_init__(self) -> None:
        _at_least(self, batch_size=1, repeats=1, max_batches=0)


@dataclass
class MSSSIMConfig:
    """MS-SSIM (Wang, Simoncelli, Bovik 2003) as a diversity score over random pairs."""

    pairs: int = doc("random pairs of generated (and of real) samples the mean is taken over", 1000)
    scales: int = doc("number of scales; 0 = auto (5 from 176 px, else as many as keep >= window px)", 0)
    window: int = doc("Gaussian window size in px (odd); 0 = auto (11 from 176 px, else 7)", 0)
    sigma: float = doc("Gaussian window sigma; 0 = 1.5 * window / 11", 0.0)
    data_range: float = doc("L in C1=(K1 L)², C2=(K2 L)²; images are mapped from [-1, 1] to [0, 1] first, so 1", 1.0)
    normalise: Literal["relu", "simple", "none"] = doc(
        "keep per-scale terms non-negative: relu (VainF, torchmetrics), simple ((x+1)/2) or none (may be NaN)",
        "relu",
    )
    renormalise_weights: bool = doc("rescale the first `scales` of Wang's 5 weights to sum to 1", True)
    border: Literal["valid", "reflect"] = doc(
        "valid: statistics only where the window fits (Wang, VainF); reflect: torchmetrics' padded SSIM map",
        "valid",
    )

    def __post_init__(self) -> None:
        _at_least(self, pairs=1, scales=0, window=0, sigma=0.0)
        if self.data_range <= 0:
            raise ValueError(f"data_range must be > 0, got {self.data_range}")


@dataclass
class FIDConfig:
    """Fréchet distance between Gaussian fits of feature-network activations (Heusel et al. 2017)."""

    classifier: str = doc("feature network .safetensors; '' = the one shipped for the data set", "")
    floor: bool = doc("also report the real-vs-real floor (training images vs held-out, same N)", True)


@dataclass
class KIDConfig:
    """Kernel Inception Distance on feature-network activations (Bińkowski et al. 2018)."""

    classifier: str = doc("feature network .safetensors; '' = the one shipped for the data set", "")
    subsets: int = doc("random subsets the unbiased MMD² is averaged over", 100)
    subset_size: int = doc("samples per subset (capped at half of the samples available)", 1000)
    degree: int = doc("polynomial kernel degree", 3)
    coef: float = doc("polynomial kernel offset", 1.0)

    def __post_init__(self) -> None:
        _at_least(self, subsets=1, subset_size=2, degree=1)


@dataclass
class LikelihoodConfig:
    """ELBO / KL / reconstruction / IWAE bound for models with an encoder (Burda et al. 2015)."""

    samples: int = doc(
        "k importance samples per image (reports use 5000); elbo, kl, recon-error and log-likelihood with equal "
        "settings share one pass, so --set the same values on each",
        100,
    )
    chunk: int = doc("importance samples evaluated at a time (log-sum-exp is accumulated)", 500)
    decode_batch: int = doc(
        "rows per decoder call (0: 128 on a CPU, where small calls stay in cache; the whole chunk on a GPU); "
        "does not change the values", 0,
    )
    max_images: int = doc("held-out images scored at most (0 = all given); reports use 1000", 200)
    batch_size: int = doc("images per batch", 20)
    binarise: Literal["none", "dynamic", "threshold"] = doc(
        "none: score the images as they are; dynamic: Bernoulli(pixel) resample (fixed seed); threshold: > 0.5",
        "none",
    )

    def __post_init__(self) -> None:
        _at_least(self, samples=1, chunk=1, max_images=0, batch_size=1)


@dataclass
class ClassCoverageConfig:
    """Recognisable share and class histogram under the data set's classifier (issue 10)."""

    classifier: str = doc("feature network .safetensors with a classifier head; '' = the data set's shipped one", "")
    threshold: float = doc("a sample is recognisable when its top softmax probability is >= this", 0.9)
    min_share: float = doc("a class counts as covered when it holds >= this share of the samples", 0.04)


@dataclass
class PrecisionRecallConfig:
    """Improved precision and recall (Kynkäänniemi et al. 2019) on feature-network activations."""

    k: int = doc("the k of the k-NN radii (the paper's 3)", 3)
    classifier: str = doc("feature network .safetensors; '' = the one shipped for the data set", "")
    chunk_size: int = doc("query rows per distance block; memory is chunk_size x N float64", 1024)
    real: bool = doc("also report real-vs-real (training vs held-out images, same N)", True)


@dataclass
class SharpnessConfig:
    """Mean variance of the Laplacian of [0, 1] images (Pech-Pacheco et al. 2000)."""

    border: Literal["valid", "mirror"] = doc(
        "valid: only pixels whose neighbours lie inside; mirror: whole-sample reflection (scipy mode='mirror')",
        "valid",
    )
