"""sharpness: the variance of the Laplacian against scipy.ndimage.laplace and closed-form images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from genzoo.evaluation import EvalContext, evaluate
from genzoo_metrics.sharpness import laplacian, laplacian_variance


def _random(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("shape", [(3, 2, 12, 9), (2, 1, 6, 7, 5)])
def test_laplacian_matches_scipy_ndimage_laplace(shape) -> None:
    images = _random(shape, 0)
    valid = laplacian(images, "valid")
    mirror = laplacian(images, "mirror")
    inner = (slice(None), slice(None), *[slice(1, -1)] * (len(shape) - 2))
    for n in range(shape[0]):
        for c in range(shape[1]):
            reference = ndimage.laplace(images[n, c].numpy(), mode="mirror")
            np.testing.assert_allclose(mirror[n, c].numpy(), reference, atol=1e-12)
            np.testing.assert_allclose(valid[n, c].numpy(), reference[inner[2:]], atol=1e-12)
    expected = [np.var(ndimage.laplace(images[n, 0].numpy(), mode="mirror")[inner[2:]]) for n in range(shape[0])]
    if shape[1] == 1:
        np.testing.assert_allclose(laplacian_variance(images).numpy(), expected, rtol=1e-12)


def test_closed_form_constant_and_checkerboards() -> None:
    constant = torch.full((2, 1, 10, 10), 0.37, dtype=torch.float64)
    assert laplacian_variance(constant).tolist() == pytest.approx([0.0, 0.0], abs=1e-24)
    # A 0/1 checkerboard: every pixel's 4 neighbours hold the other value, so the Laplacian is
    # 4(1 - v) - 4v = ±4 with as many of each in the 8x8 valid region: variance 16.
    index = torch.arange(10)
    board = ((index[:, None] + index[None, :]) % 2).double().view(1, 1, 10, 10)
    assert laplacian_variance(board).item() == pytest.approx(16.0)
    # 3D with 6 neighbours: ±6, variance 36; half the contrast quarters the variance.
    cube = ((index[:, None, None] + index[None, :, None] + index[None, None, :]) % 2).double().view(1, 1, 10, 10, 10)
    assert laplacian_variance(cube).item() == pytest.approx(36.0)
    assert laplacian_variance(cube * 0.5).item() == pytest.approx(9.0)


def test_metric_maps_to_unit_range_and_reports_the_real_value(metrics_registry) -> None:
    index = torch.arange(8)
    board = ((index[:, None] + index[None, :]) % 2).float().view(1, 1, 8, 8) * 2 - 1  # in [-1, 1]
    generated = torch.cat([board, torch.zeros(1, 1, 8, 8)])  # variances 16 and 0
    real = torch.cat([board * 0.5, board * 0.5, board * 0.5])  # contrast 1/2 in [0, 1]: 4 each
    context = EvalContext(object(), real, generated=generated)
    (result,) = evaluate(context, ["sharpness"], None, metrics_registry)
    assert result.value == pytest.approx(8.0)
    assert result.values["sharpness.std"] == pytest.approx(np.std([16.0, 0.0], ddof=1))
    assert result.values["sharpness.real"] == pytest.approx(4.0) and result.values["sharpness.real.std"] == 0.0
    (mirror,) = evaluate(context, ["sharpness"], {"sharpness": {"border": "mirror"}}, metrics_registry)
    # Mirror padding keeps the checkerboard's pattern at the borders too, so nothing changes here.
    assert mirror.value == pytest.approx(8.0)


def test_bad_input_is_a_config_error() -> None:
    from genzoo.errors import ConfigError

    with pytest.raises(ConfigError, match="border"):
        laplacian(torch.zeros(1, 1, 5, 5), "wrap")
    with pytest.raises(ConfigError, match="3 px"):
        laplacian(torch.zeros(1, 1, 2, 5))
