"""MMD: exact values against brute force and torchmetrics, chunking, bandwidth, Kwon's estimate."""

from __future__ import annotations

import pytest
import torch

from genzoo_metrics.mmd import (
    gaussian_kernel,
    kwon_linear_mmd,
    median_bandwidth,
    mmd2_unbiased,
    polynomial_kernel,
)


def _brute_force_unbiased(x: torch.Tensor, y: torch.Tensor, sigma: float) -> float:
    x, y = x.double(), y.double()
    k = lambda a, b: torch.exp(-torch.cdist(a, b) ** 2 / (2 * sigma**2))  # noqa: E731
    m, n = len(x), len(y)
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    return float(
        (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
        + (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1))
        - 2 * kxy.mean()
    )


def test_gaussian_mmd_matches_brute_force_for_any_chunk() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(70, 5, generator=g, dtype=torch.float64)
    y = torch.randn(53, 5, generator=g, dtype=torch.float64) + 0.5
    sigma = median_bandwidth(x)
    expected = _brute_force_unbiased(x, y, sigma)
    for chunk in (7, 16, 1000):
        assert mmd2_unbiased(x, y, gaussian_kernel(sigma), chunk) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert expected > 0.01


def test_multi_bandwidth_is_the_sum_of_single_kernels() -> None:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(40, 3, generator=g, dtype=torch.float64)
    y = torch.randn(40, 3, generator=g, dtype=torch.float64) * 1.5
    multi = mmd2_unbiased(x, y, gaussian_kernel(1.0, (0.5, 1.0, 2.0)), 16)
    single = sum(mmd2_unbiased(x, y, gaussian_kernel(s), 16) for s in (0.5, 1.0, 2.0))
    assert multi == pytest.approx(single, rel=1e-9)


def test_polynomial_mmd_matches_torchmetrics_kid_kernel() -> None:
    kid = pytest.importorskip("torchmetrics.image.kid")
    g = torch.Generator().manual_seed(2)
    x = torch.randn(60, 8, generator=g, dtype=torch.float64)
    y = torch.randn(60, 8, generator=g, dtype=torch.float64) * 1.2 + 0.3
    theirs = kid.poly_mmd(x, y, degree=3, gamma=None, coef=1.0)
    ours = mmd2_unbiased(x, y, polynomial_kernel(8, 3, 1.0), chunk=13)
    assert ours == pytest.approx(float(theirs), rel=1e-9)


def test_same_distribution_scores_near_zero_and_shift_scores_higher() -> None:
    g = torch.Generator().manual_seed(3)
    real = torch.randn(400, 10, generator=g)
    same = torch.randn(400, 10, generator=g)
    shifted = torch.randn(400, 10, generator=g) + 0.3
    kernel = gaussian_kernel(median_bandwidth(real))
    near = mmd2_unbiased(real, same, kernel)
    far = mmd2_unbiased(real, shifted, kernel)
    assert abs(near) < 2e-3 < far


def test_median_bandwidth_is_the_median_pairwise_distance() -> None:
    points = torch.tensor([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]])  # distances 5, 10, 5
    assert median_bandwidth(points) == pytest.approx(5.0)
    cloud = torch.randn(3000, 4, generator=torch.Generator().manual_seed(1))
    subset = median_bandwidth(cloud, subset=500, generator=torch.Generator().manual_seed(0))
    # For a, b ~ N(0, I_4), ||a-b||²/2 ~ chi²(4), whose median is 3.3567.
    assert subset == pytest.approx((2 * 3.3567) ** 0.5, rel=0.05)


def test_kwon_linear_mmd_is_the_squared_distance_of_batch_means() -> None:
    real = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    fake = torch.tensor([[1.0, 1.0], [1.0, 1.0]])
    mean, std = kwon_linear_mmd(real, fake, batch_size=2, repeats=3, generator=torch.Generator().manual_seed(0))
    assert mean == pytest.approx(1.0) and std == pytest.approx(0.0)  # ||(1,0) - (1,1)||² = 1
    # With B=1 it is E||x - y||² over random pairs: here every pair is at squared distance 2.
    b1, _ = kwon_linear_mmd(real, fake, batch_size=1, repeats=5, generator=torch.Generator().manual_seed(0))
    assert b1 == pytest.approx(2.0)
