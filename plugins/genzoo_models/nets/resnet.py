"""ResNet nets for 64 and 128 px (after Sagar's Tables 1-2: conv, ResNet blocks, upsampling /
average pooling), in the pre-activation style of Gulrajani et al.'s 64 px WGAN-GP ResNet.

Encoder/critic: Conv 3x3 -> ``stages`` x ResBlock(down: average pooling) -> LeakyReLU -> linear.
Generator: linear to (C0, 4, 4) -> ``stages`` x ResBlock(up: nearest upsampling) -> BN -> ReLU
-> Conv 3x3 -> tanh. A block is ``norm, act, conv3x3, norm, act, conv3x3`` plus a 1x1-conv
shortcut, resampled on both paths; ``blocks_per_stage - 1`` extra same-resolution blocks follow
each resampling block. Our reading of the tables: the exact channel counts are config fields.
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from genzoo_models.nets.layers import avg_pool, conv, norm, upsample, widths


class ResBlock(nn.Module):
    """Pre-activation residual block with optional 2x down- or up-sampling."""

    def __init__(self, dims: int, in_ch: int, out_ch: int, resample: str, norm_kind: str, act: nn.Module) -> None:
        super().__init__()
        up = [upsample()] if resample == "up" else []
        down = [avg_pool(dims)] if resample == "down" else []
        self.main = nn.Sequential(
            norm(norm_kind, dims, in_ch),
            act,
            *up,
            conv(dims, in_ch, out_ch, 3, padding=1, bias=norm_kind != "batch"),
            norm(norm_kind, dims, out_ch),
            act,
            conv(dims, out_ch, out_ch, 3, padding=1),
            *down,
        )
        same = in_ch == out_ch and resample == "none"
        self.shortcut = nn.Identity() if same else nn.Sequential(*up, conv(dims, in_ch, out_ch, 1), *down)

    def forward(self, x: Tensor) -> Tensor:
        return self.shortcut(x) + self.main(x)


class ResNetEncoder(nn.Module):
    """Image/volume -> ``out_features`` numbers."""

    def __init__(
        self,
        dims: int,
        in_channels: int,
        size: int,
        stages: int,
        width: int,
        max_width: int,
        out_features: int,
        norm_kind: str,
        blocks_per_stage: int = 1,
        head_bias: bool = True,
    ) -> None:
        super().__init__()
        chans = widths(width, stages, max_width)
        layers: list[nn.Module] = [conv(dims, in_channels, chans[0], 3, padding=1)]
        for ch_in, ch_out in zip(chans[:-1], chans[1:]):
            layers.append(ResBlock(dims, ch_in, ch_out, "down", norm_kind, nn.LeakyReLU(0.2)))
            for _ in range(blocks_per_stage - 1):
                layers.append(ResBlock(dims, ch_out, ch_out, "none", norm_kind, nn.LeakyReLU(0.2)))
        layers.append(nn.LeakyReLU(0.2))
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(chans[-1] * (size // 2**stages) ** dims, out_features, bias=head_bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x).flatten(1))


class ResNetGenerator(nn.Module):
    """Latent code -> image/volume in [-1, 1]; :meth:`pre_tanh` gives the activation before tanh."""

    def __init__(
        self,
        dims: int,
        latent_dim: int,
        out_channels: int,
        size: int,
        stages: int,
        width: int,
        max_width: int,
        blocks_per_stage: int = 1,
    ) -> None:
        super().__init__()
        chans = list(reversed(widths(width, stages, max_width)))
        self.start_shape = (chans[0],) + (size // 2**stages,) * dims
        self.project = nn.Linear(latent_dim, math.prod(self.start_shape))
        layers: list[nn.Module] = []
        for ch_in, ch_out in zip(chans[:-1], chans[1:]):
            layers.append(ResBlock(dims, ch_in, ch_out, "up", "batch", nn.ReLU()))
            for _ in range(blocks_per_stage - 1):
                layers.append(ResBlock(dims, ch_out, ch_out, "none", "batch", nn.ReLU()))
        layers += [norm("batch", dims, chans[-1]), nn.ReLU(), conv(dims, chans[-1], out_channels, 3, padding=1)]
        self.body = nn.Sequential(*layers)

    def pre_tanh(self, z: Tensor) -> Tensor:
        return self.body(self.project(z).view(z.shape[0], *self.start_shape))

    def forward(self, z: Tensor) -> Tensor:
        return self.pre_tanh(z).tanh()
