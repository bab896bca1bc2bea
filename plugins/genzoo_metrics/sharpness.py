"""Sharpness: the variance of the Laplacian (Pech-Pacheco et al. 2000, "Diatom autofocusing in
brightfield microscopy"; the usual blur score, ``cv2.Laplacian(img, CV_64F).var()``).

Images are mapped from [-1, 1] to [0, 1] and filtered per channel with the discrete Laplacian

    2D, 4-neighbour:  [[0, 1, 0], [1, -4, 1], [0, 1, 0]]
    3D, 6-neighbour:  centre -6, the six face neighbours 1

which is scipy.ndimage.laplace (the sum of [1, -2, 1] along every axis). The score of one image
is the population variance of its Laplacian over all channels and pixels; the metric is its mean
over samples. Borders: ``valid`` (default) uses only pixels whose whole neighbourhood lies inside
the image, so no padding rule enters the number; ``mirror`` pads by whole-sample reflection
(d c b | a b c d), which is scipy's ``mode="mirror"`` and OpenCV's default BORDER_REFLECT_101.

A blurry image has a small Laplacian everywhere, so a low variance; noise has a huge one. Read the
value against ``sharpness.real``, the same score on real held-out images: below it is blur (the
VAE signature), far above it is noise or speckle.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from genzoo.errors import ConfigError
from genzoo_metrics.configs import SharpnessConfig


def laplacian_kernel(spatial: int, channels: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """The (2·spatial)-neighbour Laplacian as a grouped convolution weight (C, 1, 3, 3[, 3])."""
    kernel = torch.zeros((3,) * spatial, dtype=dtype)
    centre = (1,) * spatial
    kernel[centre] = -2.0 * spatial
    for axis in range(spatial):
        for offset in (0, 2):
            index = list(centre)
            index[axis] = offset
            kernel[tuple(index)] = 1.0
    return kernel.expand(channels, 1, *kernel.shape).contiguous()


def laplacian(images: Tensor, border: str = "valid") -> Tensor:
    """The Laplacian of (N, C, H, W) or (N, C, D, H, W) images, per channel, in float64."""
    if images.dim() not in (4, 5):
        raise ConfigError(f"sharpness takes (N, C, H, W) or (N, C, D, H, W) images, got {tuple(images.shape)}")
    if border not in ("valid", "mirror"):
        raise ConfigError(f"sharpness border must be valid or mirror, got {border!r}")
    spatial = images.dim() - 2
    if min(images.shape[2:]) < 3:
        raise ConfigError(f"sharpness needs images of at least 3 px per axis, got {tuple(images.shape[2:])}")
    x = images.double()
    if border == "mirror":
        x = F.pad(x, [1] * (2 * spatial), mode="reflect")  # torch's "reflect" is whole-sample (scipy "mirror")
    conv = F.conv2d if spatial == 2 else F.conv3d
    return conv(x, laplacian_kernel(spatial, x.shape[1]).to(x.device), groups=x.shape[1])


def laplacian_variance(images: Tensor, border: str = "valid", batch_size: int = 500) -> Tensor:
    """Per-image population variance of the Laplacian of ``images`` (already in [0, 1]); (N,) float64."""
    out = [
        laplacian(images[i : i + batch_size], border).flatten(1).var(1, correction=0)
        for i in range(0, len(images), batch_size)
    ]
    return torch.cat(out)


class Sharpness:
    """Metric ``sharpness``: mean variance of the Laplacian of [0, 1] samples, beside real held-out images."""

    def __init__(self, config: SharpnessConfig) -> None:
        self.config = config

    def compute(self, context: Any) -> dict[str, float]:
        result: dict[str, float] = {}
        for which, prefix in (("generated", "sharpness"), ("real", "sharpness.real")):
            images = (getattr(context, which) + 1) / 2
            scores = laplacian_variance(images, self.config.border, context.batch_size)
            result[prefix] = float(scores.mean())
            result[f"{prefix}.std"] = float(scores.std()) if len(scores) > 1 else float("nan")
        return result
