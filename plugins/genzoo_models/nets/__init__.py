"""Network builders chosen from the data shape: (C, H, W) -> 2D nets, (C, D, H, W) -> 3D nets.

=========  ===================  ==========================================
data       default architecture  supported
=========  ===================  ==========================================
2D 28 px   conv (DCGAN)          conv
2D 32 px   conv (DCGAN)          conv, resnet
2D 64 px   resnet                conv, resnet
2D 128 px  resnet                conv, resnet
3D 32^3    conv (4 x Conv3d)     conv, resnet
3D 64^3    conv (4 x Conv3d)     conv, resnet
=========  ===================  ==========================================
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from torch import Tensor, nn

from genzoo.errors import ConfigError
from genzoo_models.configs import NetConfig
from genzoo_models.nets.conv import ConvEncoder, ConvGenerator
from genzoo_models.nets.resnet import ResNetEncoder, ResNetGenerator

SUPPORTED = {2: (28, 32, 64, 128), 3: (32, 64)}
SUPPORTED_TEXT = "2D images (C, S, S) with S in 28, 32, 64, 128 and 3D volumes (C, S, S, S) with S in 32, 64"


@dataclass(frozen=True)
class NetPlan:
    """What to build for one data shape."""

    architecture: str  # "conv" or "resnet"
    dims: int
    channels: int
    size: int
    stages: int  # number of 2x resampling steps between the data and the bottleneck


def plan(data_shape: Sequence[int], architecture: str = "auto") -> NetPlan:
    """Choose the architecture and number of stages, or raise a :class:`ConfigError` that names the
    supported shapes."""
    shape = tuple(int(s) for s in data_shape)
    dims = len(shape) - 1
    spatial = shape[1:]
    if dims not in SUPPORTED or len(set(spatial)) != 1 or spatial[0] not in SUPPORTED[dims] or shape[0] < 1:
        raise ConfigError(f"unsupported data shape {shape}: the built-in nets support {SUPPORTED_TEXT}")
    size = spatial[0]
    if architecture == "auto":
        architecture = "resnet" if dims == 2 and size >= 64 else "conv"
    if architecture == "conv":
        stages = 4 if dims == 3 else {28: 2, 32: 3, 64: 4, 128: 5}[size]
    elif architecture == "resnet":
        if size == 28:
            raise ConfigError(
                "the resnet architecture needs a power-of-two size (32, 64, 128); use architecture=conv for 28 px"
            )
        stages = {32: 3, 64: 4, 128: 5}[size]
    else:
        raise ConfigError(f"unknown architecture {architecture!r}; use auto, conv or resnet")
    return NetPlan(architecture, dims, shape[0], size, stages)


def discriminator_plan(p: NetPlan, cfg: NetConfig) -> NetPlan:
    """The plan of a discriminator/critic: ``cfg.discriminator_extra_stages`` more stride-2 stages than the
    data's plan. At 28 px two stages of 4x4 kernels see 10-px patches that only the linear head combines; a
    third (7x7 -> 3x3) lets its convolutions see the whole digit (MODELS.md)."""
    extra = cfg.discriminator_extra_stages
    stages = p.stages + extra
    if p.size // 2**stages < 1:
        most = (p.size // 2**p.stages).bit_length() - 1  # halvings the data's bottleneck has left
        raise ConfigError(
            f"net.discriminator_extra_stages={extra} shrinks data {p.size} wide below one pixel; use at most {most}"
        )
    return replace(p, stages=stages)


def build_encoder(
    p: NetPlan, cfg: NetConfig, width: int, out_features: int, norm_kind: str, head_bias: bool = True
) -> nn.Module:
    """An encoder or critic mapping a batch of data to ``(B, out_features)``."""
    if p.architecture == "resnet":
        return ResNetEncoder(
            p.dims, p.channels, p.size, p.stages, width, cfg.max_width, out_features, norm_kind,
            cfg.blocks_per_stage, head_bias,
        )
    return ConvEncoder(
        p.dims, p.channels, p.size, p.stages, width, cfg.max_width, out_features, norm_kind,
        cfg.blocks_per_stage - 1, head_bias,
    )


def build_generator(p: NetPlan, cfg: NetConfig, latent_dim: int) -> nn.Module:
    """A generator with ``forward(z)`` in [-1, 1] and ``pre_tanh(z)``."""
    if p.architecture == "resnet":
        return ResNetGenerator(
            p.dims, latent_dim, p.channels, p.size, p.stages, cfg.generator_width, cfg.max_width, cfg.blocks_per_stage
        )
    return ConvGenerator(
        p.dims, latent_dim, p.channels, p.size, p.stages, cfg.generator_width, cfg.max_width, cfg.blocks_per_stage - 1
    )


class GaussianEncoder(nn.Module):
    """q(z|x) = N(mu, diag(exp(logvar))): one network whose head outputs [mu, logvar]."""

    def __init__(self, p: NetPlan, cfg: NetConfig, latent_dim: int) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.net = build_encoder(p, cfg, cfg.encoder_width, 2 * latent_dim, cfg.encoder_norm)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mu, logvar = self.net(x).chunk(2, dim=1)
        return mu, logvar


class CodeDiscriminator(nn.Module):
    """MLP on latent codes -> one logit (alpha-GAN's C), with LeakyReLU and no batch norm."""

    def __init__(self, latent_dim: int, hidden: int, depth: int, bias: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        previous = latent_dim
        for _ in range(depth):
            layers += [nn.Linear(previous, hidden), nn.LeakyReLU(0.2)]
            previous = hidden
        layers.append(nn.Linear(previous, 1, bias=bias))  # no bias under a Wasserstein loss (no gradient)
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


__all__ = [
    "CodeDiscriminator",
    "GaussianEncoder",
    "NetPlan",
    "SUPPORTED_TEXT",
    "build_encoder",
    "discriminator_plan",
    "build_generator",
    "plan",
]
