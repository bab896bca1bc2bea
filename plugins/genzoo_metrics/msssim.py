"""MS-SSIM (Wang, Simoncelli & Bovik 2003) for 2D images and 3D volumes, and its diversity score.

Per scale j, with Gaussian-weighted local means μ, variances σ² and covariance σxy
(window ``window`` taps, std ``sigma``, separable, normalised) and C1=(K1 L)², C2=(K2 L)²:

    l  = (2 μx μy + C1) / (μx² + μy² + C1)
    cs = (2 σxy + C2) / (σx² + σy² + C2)

    MS-SSIM = mean(l·cs at the coarsest scale M)^{w_M} · Π_{j<M} mean(cs_j)^{w_j}

with 2x average pooling between scales and w the first M of (0.0448, 0.2856, 0.3001, 0.2363,
0.1333). Free of the pitfalls of REFERENCE §2.5: L is explicit (never inferred per batch; the
diversity metric maps [-1, 1] samples to [0, 1] and uses L=1), the coarsest SSIM is raised
to its weight once (not the 3dbraingen/old jorge-pessoa ``prod(mcs*mssim)`` bug), and negative
terms are clamped (``relu``) so anti-correlated pairs give 0, not NaN. Variances are clamped at 0
against round-off and the covariance to |σxy| <= σx σy, so identical inputs give exactly 1; float64
input is computed in float64.

Borders: ``valid`` computes statistics only where the window fits (Wang; VainF pytorch-msssim);
``reflect`` reproduces torchmetrics, whose coarsest SSIM map is averaged over a reflection-padded
image (its cs is cropped back to the valid region, so it equals ``valid`` there).

Small images: five scales with an 11-px window need >= 176 px. Below that the default is a 7-px
window (sigma = 1.5·7/11) and as many scales as keep the coarsest level >= 7 px, with the weights
renormalised to sum to 1, so 28x28 digits use 3 scales (28, 14, 7) with w = (0.0710, 0.4530,
0.4760). Renormalising keeps scores on the same scale as the 5-scale definition; torchmetrics
does not renormalise (pass ``renormalise_weights=False`` to match it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from genzoo.errors import ConfigError

WANG_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
K1, K2 = 0.01, 0.03


@dataclass(frozen=True)
class MSSSIMSettings:
    """Resolved settings for one image size (see :func:`resolve_settings`)."""

    scales: int
    window: int
    sigma: float
    weights: tuple[float, ...]
    data_range: float = 2.0
    normalise: str = "relu"
    border: str = "valid"


def resolve_settings(
    spatial: Sequence[int],
    *,
    scales: int = 0,
    window: int = 0,
    sigma: float = 0.0,
    data_range: float = 2.0,
    normalise: str = "relu",
    renormalise_weights: bool = True,
    border: str = "valid",
) -> MSSSIMSettings:
    """Fill the automatic choices for images of spatial size ``spatial`` and check they fit."""
    side = min(int(s) for s in spatial)
    if window <= 0:
        window = 11 if side >= 176 else 7
    if window % 2 == 0:
        raise ConfigError(f"ms-ssim window must be odd, got {window}")
    if sigma <= 0:
        sigma = 1.5 * window / 11
    if scales <= 0:
        scales = 1
        while scales < 5 and side // 2**scales >= window:
            scales += 1
    if scales > len(WANG_WEIGHTS):
        raise ConfigError(f"ms-ssim supports at most {len(WANG_WEIGHTS)} scales, got {scales}")
    coarsest = side // 2 ** (scales - 1)
    if border == "valid" and coarsest < window:
        raise ConfigError(
            f"ms-ssim: {scales} scales shrink {side} px to {coarsest} px, smaller than the {window}-px window; "
            "use fewer scales (--set scales=N) or a smaller window"
        )
    if border == "reflect" and coarsest <= (window - 1) // 2:
        raise ConfigError(
            f"ms-ssim: the coarsest scale ({coarsest} px) is too small to reflect-pad a {window}-px window"
        )
    weights = WANG_WEIGHTS[:scales]
    if renormalise_weights and scales < len(WANG_WEIGHTS):
        total = sum(weights)
        weights = tuple(w / total for w in weights)
    if normalise not in ("relu", "simple", "none"):
        raise ConfigError(f"ms-ssim normalise must be relu, simple or none, got {normalise!r}")
    return MSSSIMSettings(scales, window, float(sigma), tuple(weights), float(data_range), normalise, border)


def gaussian_window(size: int, sigma: float, dtype: torch.dtype, device: torch.device) -> Tensor:
    """Normalised 1D Gaussian of ``size`` taps."""
    coords = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return g / g.sum()


def _blur(x: Tensor, g: Tensor, pad: int) -> Tensor:
    """Separable Gaussian filter over every spatial axis of ``x`` (N, C, *spatial), per channel."""
    spatial = x.dim() - 2
    channels = x.shape[1]
    conv = F.conv2d if spatial == 2 else F.conv3d
    if pad:
        x = F.pad(x, [pad] * (2 * spatial), mode="reflect")
    for axis in range(spatial):
        shape = [1] * spatial
        shape[axis] = g.numel()
        kernel = g.view(1, 1, *shape).expand(channels, 1, *shape).contiguous()
        x = conv(x, kernel, groups=channels)
    return x


def _ssim_terms(x: Tensor, y: Tensor, g: Tensor, s: MSSSIMSettings, full_map: bool) -> tuple[Tensor, Tensor]:
    """Per-image mean SSIM and mean cs at one scale; ``full_map`` averages SSIM over the padded map."""
    c1 = (K1 * s.data_range) ** 2
    c2 = (K2 * s.data_range) ** 2
    pad = (s.window - 1) // 2 if full_map else 0
    # The five maps go through one grouped convolution as channels (about 1.7x faster on CPU
    # than five separate calls or stacking them along the batch axis).
    stats = _blur(torch.cat([x, y, x * x, y * y, x * y], dim=1), g, pad).chunk(5, dim=1)
    mu_x, mu_y, xx, yy, xy = stats
    mu_xx, mu_yy, mu_xy = mu_x * mu_x, mu_y * mu_y, mu_x * mu_y
    var_x = (xx - mu_xx).clamp_min(0)
    var_y = (yy - mu_yy).clamp_min(0)
    # Round-off can leave E[xy] - mu_x mu_y outside what the clamped variances allow (for a constant
    # image the variances clamp to 0 but the covariance stays a tiny negative number, so SSIM(x, x)
    # came out 0.9995). Clamping it to |cov| <= sqrt(var_x var_y) (Cauchy-Schwarz) keeps every term
    # consistent; for x == y both the numerator and denominator are then the same floats, so 1 exactly.
    bound = (var_x * var_y).sqrt()
    cov = torch.minimum(torch.maximum(xy - mu_xy, -bound), bound)
    cs_map = (2 * cov + c2) / (var_x + var_y + c2)
    ssim_map = (2 * mu_xy + c1) / (mu_xx + mu_yy + c1) * cs_map
    if pad:
        crop = (Ellipsis, *[slice(pad, -pad)] * (x.dim() - 2))
        cs_map = cs_map[crop]
    return ssim_map.flatten(1).mean(1), cs_map.flatten(1).mean(1)


def ms_ssim(x: Tensor, y: Tensor, settings: MSSSIMSettings) -> Tensor:
    """MS-SSIM of each pair ``(x[i], y[i])``; inputs (N, C, H, W) or (N, C, D, H, W). Returns (N,)."""
    if x.shape != y.shape:
        raise ConfigError(f"ms-ssim compares tensors of one shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    if x.dim() not in (4, 5):
        raise ConfigError(f"ms-ssim takes (N, C, H, W) or (N, C, D, H, W), got {tuple(x.shape)}")
    # float64 stays float64; half precision and integers are computed in float32.
    dtype = x.dtype if x.dtype == torch.float64 and y.dtype == torch.float64 else torch.float32
    x = x.to(dtype)
    y = y.to(dtype)
    g = gaussian_window(settings.window, settings.sigma, x.dtype, x.device)
    pool = F.avg_pool2d if x.dim() == 4 else F.avg_pool3d
    factors: list[Tensor] = []
    for scale in range(settings.scales):
        last = scale == settings.scales - 1
        ssim, cs = _ssim_terms(x, y, g, settings, full_map=last and settings.border == "reflect")
        term = ssim if last else cs
        if settings.normalise == "relu":
            term = term.clamp_min(0)
        elif settings.normalise == "simple":
            term = (term + 1) / 2
        factors.append(term ** settings.weights[scale])
        if not last:
            x, y = pool(x, 2), pool(y, 2)
    return torch.stack(factors).prod(0)


def random_pairs(n: int, pairs: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """``pairs`` index pairs (i, j), i != j, drawn uniformly from ``range(n)``."""
    if n < 2:
        raise ConfigError(f"ms-ssim diversity needs at least 2 samples, got {n}")
    first = torch.randint(0, n, (pairs,), generator=generator)
    offset = torch.randint(1, n, (pairs,), generator=generator)
    return first, (first + offset) % n


def mean_pair_ms_ssim(
    images: Tensor, pairs: int, settings: MSSSIMSettings, generator: torch.Generator, chunk: int = 256
) -> tuple[float, float]:
    """Mean and standard deviation of MS-SSIM over ``pairs`` random pairs of distinct ``images``."""
    first, second = random_pairs(len(images), pairs, generator)
    scores = []
    for start in range(0, pairs, chunk):
        i, j = first[start : start + chunk], second[start : start + chunk]
        scores.append(ms_ssim(images[i], images[j], settings))
    values = torch.cat(scores).double()
    return float(values.mean()), float(values.std()) if len(values) > 1 else math.nan


class MSSSIMDiversity:
    """Metric ``ms-ssim``: mean MS-SSIM over random generated pairs, beside the real-pair value.

    Lower means more diverse. Read it against ``ms-ssim.real``: far above it is mode collapse, far
    below it is noise. Pairs are drawn with the context's seed, so every model sees the same pairs.
    """

    def __init__(self, config: object) -> None:
        self.config = config

    def compute(self, context: object) -> dict[str, float]:
        cfg = self.config
        # Scored on [0, 1] images with L=1 (VainF's README advice), so a value equals what
        # pytorch-msssim or torchmetrics give on the saved PNGs. The luminance term is not
        # shift-invariant, so [-1, 1] with L=2 would give different numbers.
        real = (context.real + 1) / 2  # type: ignore[attr-defined]
        generated = (context.generated + 1) / 2  # type: ignore[attr-defined]
        settings = resolve_settings(
            real.shape[2:],
            scales=cfg.scales,
            window=cfg.window,
            sigma=cfg.sigma,
            data_range=cfg.data_range,
            normalise=cfg.normalise,
            renormalise_weights=cfg.renormalise_weights,
            border=cfg.border,
        )
        fake_mean, fake_std = mean_pair_ms_ssim(
            generated, cfg.pairs, settings, context.generator("ms-ssim/generated")  # type: ignore[attr-defined]
        )
        real_mean, real_std = mean_pair_ms_ssim(
            real, cfg.pairs, settings, context.generator("ms-ssim/real")  # type: ignore[attr-defined]
        )
        return {"ms-ssim": fake_mean, "ms-ssim.std": fake_std, "ms-ssim.real": real_mean, "ms-ssim.real.std": real_std}
