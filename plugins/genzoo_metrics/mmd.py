"""Maximum mean discrepancy: unbiased MMD² (Gretton et al. 2012) in bounded memory, and Kwon's
batch-wise linear-kernel score.

For real X = {x_i}_{i<m} and generated Y = {y_j}_{j<n} and a kernel k:

    MMD²_u = 1/(m(m-1)) Σ_{i≠i'} k(x_i, x_i') + 1/(n(n-1)) Σ_{j≠j'} k(y_j, y_j') - 2/(mn) Σ_{i,j} k(x_i, y_j)

(unbiased U-statistic, may be slightly negative; the cross term keeps its diagonal, as in
torchmetrics' KID). The three kernel sums are accumulated block by block (``chunk`` rows at a
time, only the upper triangle of blocks for the symmetric sums), in float64, so 10,000 x 10,000
needs O(chunk²) memory.

Kernels: Gaussian k(a, b) = Σ_m exp(-‖a-b‖² / (2 (m σ)²)) over multipliers m; σ by the median
heuristic, median_{i<j} ‖x_i - x_j‖ over a fixed subset of the *real* data, so every model is
scored with the same kernel. Gaussian MMD with the median bandwidth is invariant to an affine
rescaling of the data, so [-1, 1] and [0, 1] pixels give the same value. Polynomial
k(a, b) = (γ a·b + c)^d (KID, γ = 1/dim by default).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from genzoo.errors import ConfigError

Kernel = Callable[[Tensor, Tensor], Tensor]


def squared_distances(a: Tensor, b: Tensor) -> Tensor:
    """‖a_i - b_j‖² via the Gram matrix (a matmul, not cdist), clamped at 0 against round-off."""
    d = (a * a).sum(1, keepdim=True) + (b * b).sum(1)[None, :] - 2 * a @ b.T
    return d.clamp_min_(0)


def gaussian_kernel(sigma: float, multipliers: Sequence[float] = (1.0,)) -> Kernel:
    """Sum of Gaussian kernels with bandwidths ``sigma * m``."""
    if sigma <= 0 or not math.isfinite(sigma):
        raise ConfigError(f"mmd: the Gaussian bandwidth must be positive, got {sigma}")
    gammas = [1.0 / (2.0 * (sigma * m) ** 2) for m in multipliers]

    def kernel(a: Tensor, b: Tensor) -> Tensor:
        d = squared_distances(a, b)
        if len(gammas) == 1:
            return torch.exp_(d.mul_(-gammas[0]))
        return sum(torch.exp(-g * d) for g in gammas)  # type: ignore[return-value]

    return kernel


def polynomial_kernel(dim: int, degree: int = 3, coef: float = 1.0, gamma: float | None = None) -> Kernel:
    """KID's kernel (γ a·b + c)^d with γ = 1/dim by default (Bińkowski et al. 2018)."""
    gamma = 1.0 / dim if gamma is None else gamma

    def kernel(a: Tensor, b: Tensor) -> Tensor:
        return (a @ b.T * gamma + coef) ** degree

    return kernel


def median_bandwidth(real: Tensor, subset: int = 1000, generator: torch.Generator | None = None) -> float:
    """Median pairwise Euclidean distance among up to ``subset`` real samples (i < j)."""
    flat = real.flatten(1).double()
    if len(flat) > subset:
        flat = flat[torch.randperm(len(flat), generator=generator)[:subset]]
    if len(flat) < 2:
        raise ConfigError("mmd: the median heuristic needs at least 2 real samples")
    d = squared_distances(flat, flat)
    upper = torch.triu_indices(len(flat), len(flat), offset=1)
    median = float(d[upper[0], upper[1]].median().sqrt())
    if median <= 0:
        raise ConfigError("mmd: the real samples are all identical, so the median bandwidth is 0; set bandwidth")
    return median


def kernel_sum(a: Tensor, b: Tensor, kernel: Kernel, chunk: int, symmetric: bool = False) -> tuple[float, float]:
    """(Σ_ij k(a_i, b_j), Σ_i k(a_i, b_i)) computed block by block; the trace only when symmetric."""
    total = 0.0
    trace = 0.0
    for i in range(0, len(a), chunk):
        rows = a[i : i + chunk]
        start = i if symmetric else 0
        for j in range(start, len(b), chunk):
            block = kernel(rows, b[j : j + chunk])
            block_sum = float(block.sum(dtype=torch.float64))
            if symmetric and j == i:
                trace += float(block.diagonal().sum(dtype=torch.float64))
                total += block_sum
            elif symmetric:
                total += 2.0 * block_sum
            else:
                total += block_sum
    return total, trace


def mmd2_unbiased(x: Tensor, y: Tensor, kernel: Kernel, chunk: int = 2048) -> float:
    """Unbiased MMD² between samples ``x`` (m, d) and ``y`` (n, d)."""
    x = x.flatten(1)
    y = y.flatten(1)
    m, n = len(x), len(y)
    if m < 2 or n < 2:
        raise ConfigError(f"mmd needs at least 2 samples on each side, got {m} and {n}")
    kxx, trace_x = kernel_sum(x, x, kernel, chunk, symmetric=True)
    kyy, trace_y = kernel_sum(y, y, kernel, chunk, symmetric=True)
    kxy, _ = kernel_sum(x, y, kernel, chunk)
    return (kxx - trace_x) / (m * (m - 1)) + (kyy - trace_y) / (n * (n - 1)) - 2.0 * kxy / (m * n)


def kwon_linear_mmd(
    real: Tensor, fake: Tensor, batch_size: int, repeats: int, generator: torch.Generator, max_batches: int = 0
) -> tuple[float, float]:
    """Kwon et al. 2019 (3dbraingen ``Test.ipynb``): per batch ‖mean(x) - mean(y)‖² on raw pixels.

    Each pass walks the shuffled real data in batches of B and pairs every batch with B generated
    samples drawn from the shared pool; the pass score is the mean over batches, and the result is
    the mean and (population) std over passes. Biased, linear kernel, depends on B (see METRICS.md).
    """
    real = real.flatten(1).double()
    fake = fake.flatten(1).double()
    batches = len(real) // batch_size
    if max_batches:
        batches = min(batches, max_batches)
    if batches < 1 or len(fake) < batch_size:
        raise ConfigError(f"mmd-linear needs at least {batch_size} real and generated samples")
    scores = []
    for _ in range(repeats):
        order = torch.randperm(len(real), generator=generator)[: batches * batch_size]
        pick = torch.randint(0, len(fake), (batches * batch_size,), generator=generator)
        x = real[order].view(batches, batch_size, -1).mean(1)
        y = fake[pick].view(batches, batch_size, -1).mean(1)
        scores.append(((x - y) ** 2).sum(1).mean())
    values = torch.stack(scores)
    return float(values.mean()), float(values.std(unbiased=False))


class GaussianMMD:
    """Metric ``mmd``: unbiased Gaussian-kernel MMD² between held-out real and generated samples."""

    def __init__(self, config: object) -> None:
        self.config = config

    def compute(self, context: object) -> dict[str, float]:
        cfg = self.config
        if cfg.features == "classifier":
            from genzoo_metrics.classifier import context_features

            real = context_features(context, cfg.classifier, "real")
            fake = context_features(context, cfg.classifier, "generated")
        else:
            real = context.real.flatten(1)  # type: ignore[attr-defined]
            fake = context.generated.flatten(1)  # type: ignore[attr-defined]
        generator = context.generator("mmd/median")  # type: ignore[attr-defined]
        sigma = cfg.bandwidth or median_bandwidth(real, cfg.median_subset, generator)
        kernel = gaussian_kernel(sigma, cfg.bandwidth_multipliers)
        value = mmd2_unbiased(real.float(), fake.float(), kernel, cfg.chunk_size)
        return {"mmd": value, "mmd.bandwidth": sigma}


class LinearMMD:
    """Metric ``mmd-linear``: Kwon's batch-wise linear-kernel MMD, for the paper's table layout."""

    def __init__(self, config: object) -> None:
        self.config = config

    def compute(self, context: object) -> dict[str, float]:
        cfg = self.config
        mean, std = kwon_linear_mmd(
            context.real,  # type: ignore[attr-defined]
            context.generated,  # type: ignore[attr-defined]
            cfg.batch_size,
            cfg.repeats,
            context.generator("mmd-linear"),  # type: ignore[attr-defined]
            cfg.max_batches,
        )
        return {"mmd-linear": mean, "mmd-linear.std": std}
