"""MS-SSIM: agreement with pytorch-msssim and torchmetrics, identities, pitfalls, small-image mode."""

from __future__ import annotations

import math

import pytest
import torch

from genzoo.errors import ConfigError
from genzoo_metrics.msssim import mean_pair_ms_ssim, ms_ssim, random_pairs, resolve_settings


def _pair(size: int = 192, n: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, size, size, generator=g)
    # Smooth structure plus noise so every scale carries signal.
    x = torch.nn.functional.avg_pool2d(x, 5, 1, 2)
    y = (x + 0.2 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    return x, y


def test_matches_pytorch_msssim_on_192px() -> None:
    pytorch_msssim = pytest.importorskip("pytorch_msssim")
    x, y = _pair()
    ours = ms_ssim(x, y, resolve_settings(x.shape[2:], data_range=1.0))
    theirs = pytorch_msssim.ms_ssim(x, y, data_range=1.0, size_average=False)
    assert ours.shape == (3,)
    assert torch.allclose(ours, theirs, atol=1e-4)
    assert 0.3 < float(ours.min()) < 0.99  # a non-trivial regime, not a saturated 0 or 1


def test_matches_torchmetrics_on_192px_with_its_reflect_border() -> None:
    functional = pytest.importorskip("torchmetrics.functional.image")
    x, y = _pair(seed=1)
    ours = ms_ssim(x, y, resolve_settings(x.shape[2:], data_range=1.0, border="reflect"))
    theirs = functional.multiscale_structural_similarity_index_measure(
        x, y, data_range=1.0, reduction="none", normalize="relu"
    )
    assert torch.allclose(ours, theirs, atol=1e-4)
    # The two libraries differ only in the coarsest SSIM's border handling, and visibly so.
    valid = ms_ssim(x, y, resolve_settings(x.shape[2:], data_range=1.0))
    assert not torch.allclose(valid, theirs, atol=1e-6)


def test_matches_torchmetrics_with_three_unnormalised_betas_on_small_images() -> None:
    functional = pytest.importorskip("torchmetrics.functional.image")
    x, y = _pair(size=64, seed=2)
    settings = resolve_settings(
        x.shape[2:], scales=3, window=11, sigma=1.5, data_range=1.0, border="reflect", renormalise_weights=False
    )
    theirs = functional.multiscale_structural_similarity_index_measure(
        x, y, data_range=1.0, reduction="none", normalize="relu", kernel_size=7, betas=(0.0448, 0.2856, 0.3001)
    )
    assert torch.allclose(ms_ssim(x, y, settings), theirs, atol=1e-4)


def test_identity_symmetry_and_range_2d_and_3d() -> None:
    g = torch.Generator().manual_seed(3)
    for shape in [(4, 1, 28, 28), (2, 1, 32, 32, 32)]:
        x = torch.rand(shape, generator=g) * 2 - 1
        y = torch.rand(shape, generator=g) * 2 - 1
        s = resolve_settings(shape[2:])
        assert torch.allclose(ms_ssim(x, x, s), torch.ones(shape[0]), atol=1e-6)
        assert torch.allclose(ms_ssim(x, y, s), ms_ssim(y, x, s), atol=1e-6)
        values = ms_ssim(x, y, s)
        assert bool(((values >= 0) & (values <= 1)).all())


def test_anti_correlated_pairs_give_zero_not_nan() -> None:
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(4)) * 2 - 1
    for normalise in ("relu", "simple"):
        values = ms_ssim(x, -x, resolve_settings((28, 28), normalise=normalise))
        assert not torch.isnan(values).any()
    assert torch.equal(ms_ssim(x, -x, resolve_settings((28, 28))), torch.zeros(4))
    # Without normalisation a negative cs raised to a fractional power is NaN: the pitfall guarded above.
    assert torch.isnan(ms_ssim(x, -x, resolve_settings((28, 28), normalise="none"))).any()


def test_small_image_default_is_three_scales_with_renormalised_weights() -> None:
    s = resolve_settings((28, 28))
    assert (s.scales, s.window) == (3, 7)
    assert math.isclose(sum(s.weights), 1.0)
    assert [round(w, 4) for w in s.weights] == [0.0711, 0.453, 0.476]
    big = resolve_settings((256, 256))
    assert (big.scales, big.window, big.sigma) == (5, 11, 1.5)
    assert big.weights == (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def test_too_many_scales_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="fewer scales"):
        resolve_settings((28, 28), scales=5, window=11)


def test_data_range_is_explicit_and_scale_consistent() -> None:
    x, y = _pair(size=64, n=2)
    a = ms_ssim(x, y, resolve_settings((64, 64), data_range=1.0))
    b = ms_ssim(x * 2, y * 2, resolve_settings((64, 64), data_range=2.0))
    assert torch.allclose(a, b, atol=1e-5)
    # VainF's default L=255 on [0, 1] data inflates C1, C2 and drives every score toward 1.
    wrong = ms_ssim(x, y, resolve_settings((64, 64), data_range=255.0))
    assert bool((wrong > 0.99).all()) and bool((a < 0.9).all())


def test_pairs_are_distinct_and_diversity_orders_sets() -> None:
    first, second = random_pairs(5, 1000, torch.Generator().manual_seed(0))
    assert bool((first != second).all()) and int(first.max()) == 4
    g = torch.Generator().manual_seed(5)
    base = torch.rand(1, 1, 28, 28, generator=g) * 2 - 1
    collapsed = base.repeat(50, 1, 1, 1) + 0.01 * torch.randn(50, 1, 28, 28, generator=g)
    diverse = torch.rand(50, 1, 28, 28, generator=g) * 2 - 1
    s = resolve_settings((28, 28))
    high, _ = mean_pair_ms_ssim(collapsed, 200, s, torch.Generator().manual_seed(0))
    low, _ = mean_pair_ms_ssim(diverse, 200, s, torch.Generator().manual_seed(0))
    assert high > 0.95 and low < 0.2


def test_3d_matches_pytorch_msssim_on_volumes() -> None:
    pytorch_msssim = pytest.importorskip("pytorch_msssim")
    g = torch.Generator().manual_seed(6)
    x = torch.nn.functional.avg_pool3d(torch.rand(2, 1, 48, 48, 48, generator=g), 3, 1, 1)
    y = (x + 0.1 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    # pytorch-msssim demands more than (win-1)*16 px even for volumes, so use its 3-tap window.
    ours = ms_ssim(x, y, resolve_settings(x.shape[2:], scales=5, window=3, sigma=1.5, data_range=1.0))
    theirs = pytorch_msssim.ms_ssim(x, y, data_range=1.0, size_average=False, win_size=3, win_sigma=1.5)
    assert torch.allclose(ours, theirs, atol=1e-4)
    assert 0.1 < float(ours.min()) < 0.99


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("border", ["valid", "reflect"])
def test_identical_inputs_give_exactly_one_in_their_own_dtype(dtype, border) -> None:
    settings = resolve_settings((28, 28), data_range=1.0, border=border)
    constant = torch.full((2, 1, 28, 28), 0.7, dtype=dtype)  # gave 0.9995 from float32 cancellation
    noisy = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(0), dtype=dtype)
    faint = 0.5 + 1e-3 * noisy
    for x in (constant, noisy, faint):
        score = ms_ssim(x, x.clone(), settings)
        assert score.dtype == dtype
        assert torch.equal(score, torch.ones_like(score))


def test_float64_input_is_computed_in_float64() -> None:
    x, y = _pair(size=64, n=2)
    settings = resolve_settings(x.shape[2:], data_range=1.0)
    in64 = ms_ssim(x.double(), y.double(), settings)
    assert in64.dtype == torch.float64
    assert torch.allclose(in64.float(), ms_ssim(x, y, settings), atol=1e-5)
    assert not torch.equal(in64, ms_ssim(x, y, settings).double())  # really computed in float64
