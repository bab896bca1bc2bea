"""Strided-convolution nets: DCGAN-style for 28 and 32 px images, and the paper's 3D nets.

2D (Radford et al. 2016, DCGAN): encoder/critic = ``stages`` x [Conv k4 s2 p1, norm (not on the
first layer), LeakyReLU(0.2)], then a linear head; generator = linear to (C0, b, b), BN, ReLU,
``stages`` x [ConvTranspose k4 s2 p1, BN, ReLU], Conv k3 p1 to the data channels, tanh.
For 28 px the bottleneck is 7x7 (two stages), for 32 px 4x4 (three).

3D (Sagar's encoder and critic after Kwon et al. 2019): four Conv3d layers with 3x3x3 kernels,
stride 2, padding 1 (64^3 -> 4^3, 32^3 -> 2^3), BatchNorm and LeakyReLU in the encoder and no
batch norm in a WGAN-GP critic. The 3D generator mirrors it with nearest upsampling followed by a
3x3x3 convolution (no checkerboard artefacts from transposed convolutions).

Convolutions followed by batch norm have no bias (BN cancels it exactly; a bias there would get
a zero gradient). ``extra_layers`` adds that many stride-1 3x3(x3) conv layers after each resampling layer (depth).
"""

from __future__ import annotations

import math

from torch import Tensor, nn

from genzoo_models.nets.layers import conv, conv_transpose, norm, upsample, widths


class ConvEncoder(nn.Module):
    """Image/volume -> ``out_features`` numbers (encoder heads, critic scores)."""

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
        extra_layers: int = 0,
        head_bias: bool = True,
    ) -> None:
        super().__init__()
        kernel = 4 if dims == 2 else 3
        chans = widths(width, stages - 1, max_width)
        layers: list[nn.Module] = []
        previous = in_channels
        for i, ch in enumerate(chans):
            normed = i > 0
            bias = not (normed and norm_kind == "batch")
            layers.append(conv(dims, previous, ch, kernel, stride=2, padding=1, bias=bias))
            if normed:
                layers.append(norm(norm_kind, dims, ch))
            layers.append(nn.LeakyReLU(0.2))
            for _ in range(extra_layers):
                layers += [conv(dims, ch, ch, 3, padding=1, bias=norm_kind != "batch"), norm(norm_kind, dims, ch)]
                layers.append(nn.LeakyReLU(0.2))
            previous = ch
        self.features = nn.Sequential(*layers)
        bottleneck = size // 2**stages
        self.head = nn.Linear(previous * bottleneck**dims, out_features, bias=head_bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x).flatten(1))


class ConvGenerator(nn.Module):
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
        extra_layers: int = 0,
    ) -> None:
        super().__init__()
        chans = list(reversed(widths(width, stages, max_width)))  # bottleneck ... full resolution
        self.bottleneck = size // 2**stages
        self.start_shape = (chans[0],) + (self.bottleneck,) * dims
        self.project = nn.Linear(latent_dim, math.prod(self.start_shape))
        layers: list[nn.Module] = [norm("batch", dims, chans[0]), nn.ReLU()]
        for ch_in, ch_out in zip(chans[:-1], chans[1:]):
            if dims == 2:
                layers.append(conv_transpose(dims, ch_in, ch_out, 4, stride=2, padding=1, bias=False))
            else:
                layers += [upsample(), conv(dims, ch_in, ch_out, 3, padding=1, bias=False)]
            layers += [norm("batch", dims, ch_out), nn.ReLU()]
            for _ in range(extra_layers):
                layers += [conv(dims, ch_out, ch_out, 3, padding=1, bias=False), norm("batch", dims, ch_out), nn.ReLU()]
        layers.append(conv(dims, chans[-1], out_channels, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def pre_tanh(self, z: Tensor) -> Tensor:
        return self.body(self.project(z).view(z.shape[0], *self.start_shape))

    def forward(self, z: Tensor) -> Tensor:
        return self.pre_tanh(z).tanh()
