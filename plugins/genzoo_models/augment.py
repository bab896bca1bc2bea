"""Differentiable augmentation of a critic's inputs (Zhao et al. 2020, "Differentiable Augmentation
for Data-Efficient GAN Training", DiffAugment).

A critic trained on a few thousand images memorises them, and its gradients then stop telling the
generator anything general. DiffAugment shows the critic T(x) instead of x, for real and generated
images alike, with T differentiable so the generator's gradient flows through it:

    L_D = E_z[D(T(G(z)))] - E_x[D(T(x))] + GP,     L_G = -E_z[D(T(G(z)))]

Since both distributions pass through the same T, the critic compares T(p_data) with T(p_G), and
a translation-invariant T does not change which generator is optimal: the samples themselves are
never shifted (no "leak" of the augmentation into G).

``translate`` shifts each image by an integer offset drawn uniformly in [-r·size, r·size] along
every spatial axis (Zhao et al.'s ``ratio`` r = 1/8), filling the uncovered border with the edge's
values (replicate padding: the background of a digit or of a CT slice, not an invented grey). It
works for 2-D images and 3-D volumes alike, and draws its offsets from the global torch RNG, which
the trainer seeds and checkpoints, so resume stays exact.
"""

from __future__ import annotations

import typing

import torch
import torch.nn.functional as F
from torch import Tensor

from genzoo_models.configs import Augmentation

AUGMENTATIONS = typing.get_args(Augmentation)  # the config's choices, one list


def translate(x: Tensor, ratio: float = 0.125) -> Tensor:
    """Each sample of ``x`` (N, C, *spatial) shifted by its own random integer offset per axis."""
    spatial = x.shape[2:]
    pads = [max(0, int(size * ratio + 0.5)) for size in spatial]
    if not any(pads):
        return x
    # F.pad takes (last axis first) pairs; replicate padding needs a batch and channel axis
    padded = F.pad(x, [p for pad in reversed(pads) for p in (pad, pad)], mode="replicate")
    n = x.shape[0]
    for axis, (size, pad) in enumerate(zip(spatial, pads)):
        dim = 2 + axis
        offset = torch.randint(0, 2 * pad + 1, (n,), device=x.device)  # pad = no shift
        index = torch.arange(size, device=x.device)[None, :] + offset[:, None]  # (N, size)
        shape = [n] + [1] * (padded.dim() - 1)
        shape[dim] = size
        index = index.view(shape).expand(*[padded.shape[d] if d != dim else size for d in range(padded.dim())])
        padded = padded.gather(dim, index)
    return padded


def augment(x: Tensor, kind: str) -> Tensor:
    """``x`` through the named augmentation (``none`` returns it unchanged)."""
    if kind == "none":
        return x
    if kind == "translation":
        return translate(x)
    raise ValueError(f"unknown augmentation {kind!r}; choose one of {', '.join(AUGMENTATIONS)}")
