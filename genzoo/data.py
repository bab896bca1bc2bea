"""The dataset contract: what a data set gives the trainer and the metrics.

A dataset plugin's factory returns an :class:`ImageDataset`: a map-style torch dataset whose
items are float tensors in [-1, 1] of shape ``(C, H, W)`` or ``(C, D, H, W)``. Labelled data sets
also expose ``labels`` (used to train the FID classifier).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset


class ImageDataset(Dataset):
    """Base class. Subclasses set ``name``, ``shape`` and ``normalisation`` and index items.

    Attributes:
        name: the data set's registry name.
        shape: the shape of one sample, ``(C, H, W)`` or ``(C, D, H, W)``.
        normalisation: how stored values map to [-1, 1], recorded in every checkpoint
            (for example ``{"source": "uint8", "scale": "x / 127.5 - 1"}``).
        labels: integer class labels, or ``None`` for unlabelled data.
    """

    name: str = "unnamed"
    shape: tuple[int, ...] = ()
    normalisation: dict[str, Any] = {}
    labels: Tensor | None = None

    def __len__(self) -> int:  # pragma: no cover - subclasses define it
        raise TypeError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index: int) -> Tensor:  # pragma: no cover - subclasses define it
        raise TypeError(f"{type(self).__name__} must define __getitem__")


class TensorImageDataset(ImageDataset):
    """A data set held in one tensor (in memory or memory-mapped), fetched a batch at a time."""

    def __init__(
        self,
        images: Tensor,
        labels: Tensor | None = None,
        *,
        name: str,
        normalisation: dict[str, Any],
    ) -> None:
        if images.dim() not in (4, 5):
            raise ValueError(f"images must be (N, C, H, W) or (N, C, D, H, W), got {tuple(images.shape)}")
        if labels is not None and len(labels) != len(images):
            raise ValueError("labels and images differ in length")
        self.images = images
        self.labels = labels
        self.name = name
        self.shape = tuple(images.shape[1:])
        self.normalisation = dict(normalisation)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> Tensor:
        return self.images[index].float()

    def __getitems__(self, indices: list[int]) -> Tensor:
        # DataLoader calls this for a whole batch: one gather instead of len(indices) lookups.
        return self.images[torch.as_tensor(indices, dtype=torch.long)].float()


HOLDOUT_SEED = 20170601  # fixed: every training seed holds out the same validation images


class SubsetImageDataset(ImageDataset):
    """The items ``indices`` of another :class:`ImageDataset`, with its name, shape and labels."""

    def __init__(self, base: ImageDataset, indices: Tensor) -> None:
        self.base = base
        self.indices = indices.long()
        self.name = base.name
        self.shape = tuple(base.shape)
        self.normalisation = dict(base.normalisation)
        labels = getattr(base, "labels", None)
        self.labels = labels[self.indices] if isinstance(labels, Tensor) else None

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Tensor:
        return self.base[int(self.indices[index])]

    def __getitems__(self, indices: list[int]) -> Tensor:
        picked = self.indices[torch.as_tensor(indices, dtype=torch.long)].tolist()
        if hasattr(self.base, "__getitems__"):
            return self.base.__getitems__(picked)
        return torch.stack([self.base[i] for i in picked])


def split_holdout(dataset: ImageDataset, holdout: int) -> tuple[SubsetImageDataset, SubsetImageDataset]:
    """``(fit, validation)``: ``holdout`` images drawn at random (a fixed seed, independent of the
    run's) form the validation split, the rest is trained on. Both keep the original order."""
    from genzoo.errors import DataError

    n = len(dataset)
    if not 0 < holdout < n:
        raise DataError(f"train.holdout={holdout} must be between 1 and {n - 1} for {dataset.name} ({n} images)")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(HOLDOUT_SEED))
    validation, fit = order[:holdout].sort().values, order[holdout:].sort().values
    return SubsetImageDataset(dataset, fit), SubsetImageDataset(dataset, validation)


def collate_images(batch: Any) -> Tensor:
    """DataLoader collate that passes a batch from ``__getitems__`` through and stacks lists."""
    if isinstance(batch, Tensor):
        return batch
    return torch.stack(list(batch))
