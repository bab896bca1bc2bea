"""Dimension-generic layer helpers: the same code builds 2D (images) and 3D (volumes) nets."""

from __future__ import annotations

from torch import nn

from genzoo.errors import ConfigError

NORMS = ("batch", "layer", "none")


def conv(
    dims: int, in_ch: int, out_ch: int, kernel: int, stride: int = 1, padding: int = 0, bias: bool = True
) -> nn.Module:
    """``Conv2d`` or ``Conv3d``."""
    cls = {2: nn.Conv2d, 3: nn.Conv3d}[dims]
    return cls(in_ch, out_ch, kernel, stride=stride, padding=padding, bias=bias)


def conv_transpose(
    dims: int, in_ch: int, out_ch: int, kernel: int, stride: int, padding: int, bias: bool = True
) -> nn.Module:
    """``ConvTranspose2d`` or ``ConvTranspose3d``."""
    cls = {2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}[dims]
    return cls(in_ch, out_ch, kernel, stride=stride, padding=padding, bias=bias)


def avg_pool(dims: int) -> nn.Module:
    """2x average pooling in every spatial dimension."""
    return {2: nn.AvgPool2d, 3: nn.AvgPool3d}[dims](2)


def upsample() -> nn.Module:
    """2x nearest-neighbour upsampling (works for 4-D and 5-D tensors)."""
    return nn.Upsample(scale_factor=2, mode="nearest")


def norm(kind: str, dims: int, channels: int) -> nn.Module:
    """Feature normalisation: ``batch`` (BatchNorm), ``layer`` (GroupNorm with one group, i.e.
    LayerNorm over channels and space, safe under a gradient penalty) or ``none``."""
    if kind == "batch":
        return {2: nn.BatchNorm2d, 3: nn.BatchNorm3d}[dims](channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "none":
        return nn.Identity()
    raise ConfigError(f"unknown normalisation {kind!r}; use one of {', '.join(NORMS)}")


def widths(base: int, stages: int, max_width: int) -> list[int]:
    """Channel counts ``[base, 2*base, 4*base, ...]`` (``stages + 1`` values) capped at ``max_width``."""
    return [min(base * 2**i, max_width) for i in range(stages + 1)]
