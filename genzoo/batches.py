"""A deterministic, resumable, rank-sharded stream of training batches.

Each epoch shuffles the whole data set with a generator seeded by ``(seed, epoch)``, so the order
depends on nothing but those two numbers. Every rank takes its own shard of that permutation. The
stream's position (epoch, batch) is saved in the training state, so a resumed run starts exactly
at the next unseen batch without replaying the data loader.

Two fast paths give the same batches as the plain loader: a :class:`TensorImageDataset` read
in the main process is indexed directly (on a GPU it is copied there once when it fits, and the
epoch's permutation too, so a batch costs one gather and no host-to-device copy); with worker
processes one DataLoader with persistent workers serves every epoch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Sampler

from genzoo.data import TensorImageDataset, collate_images
from genzoo.errors import DataError


class EpochBatchSampler(Sampler[list[int]]):
    """Batches of indices for one epoch of one rank, from batch ``start`` on (drops the last partial batch)."""

    def __init__(self, size: int, batch_size: int, seed: int, epoch: int, start: int = 0, rank: int = 0, world: int = 1) -> None:
        self.size, self.batch_size, self.seed, self.epoch = size, batch_size, seed, epoch
        self.start, self.rank, self.world = start, rank, world

    def batches_per_epoch(self) -> int:
        return (self.size // self.world) // self.batch_size

    def __len__(self) -> int:
        return max(self.batches_per_epoch() - self.start, 0)

    def indices(self) -> Tensor:
        """This rank's indices for the rest of the epoch, batch after batch, in one tensor."""
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.size, generator=generator)
        shard = order[: (self.size // self.world) * self.world][self.rank :: self.world]
        return shard[self.start * self.batch_size : self.batches_per_epoch() * self.batch_size]

    def __iter__(self) -> Iterator[list[int]]:
        indices = self.indices()
        for b in range(len(self)):
            yield indices[b * self.batch_size : (b + 1) * self.batch_size].tolist()


@dataclass
class BatchStream:
    """An endless iterator over batches that knows its position.

    Attributes:
        epoch, batch: the position of the *next* batch to be returned.
    """

    dataset: object
    batch_size: int
    seed: int
    rank: int = 0
    world: int = 1
    num_workers: int = 0
    pin_memory: bool = False
    device: torch.device | str = "cpu"
    epoch: int = 0
    batch: int = 0

    def __post_init__(self) -> None:
        size = len(self.dataset)  # type: ignore[arg-type]
        if size // self.world < self.batch_size:
            raise DataError(
                f"data set '{getattr(self.dataset, 'name', '?')}' has {size} samples, fewer than one batch of "
                f"{self.batch_size} per process; lower --batch-size"
            )
        self._iterator: Iterator[Tensor] | None = None
        self._loader_generator = torch.Generator().manual_seed(self.seed)
        self._loader: DataLoader | None = None
        self._sampler: EpochBatchSampler | None = None
        self._images = resident_images(self.dataset, self.device) if self.num_workers == 0 else None

    @property
    def batches_per_epoch(self) -> int:
        return (len(self.dataset) // self.world) // self.batch_size  # type: ignore[arg-type]

    def position(self) -> dict[str, int]:
        return {"epoch": self.epoch, "batch": self.batch}

    def seek(self, epoch: int, batch: int) -> None:
        self.epoch, self.batch, self._iterator = epoch, batch, None

    def _open(self) -> Iterator[Tensor]:
        sampler = EpochBatchSampler(
            len(self.dataset), self.batch_size, self.seed, self.epoch, self.batch, self.rank, self.world  # type: ignore[arg-type]
        )
        if self._images is not None:
            return self._gather(sampler)
        if self._loader is not None and self._sampler is not None:
            # Persistent workers: same loader, the sampler moved to this epoch and position.
            self._sampler.epoch, self._sampler.start = self.epoch, self.batch
            return iter(self._loader)
        loader = DataLoader(
            self.dataset,  # type: ignore[arg-type]
            batch_sampler=sampler,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            collate_fn=collate_images,
            # A private generator: creating loader iterators must not consume the global RNG,
            # or a resumed run would draw different noise than an uninterrupted one.
            generator=self._loader_generator,
            worker_init_fn=_seed_worker,
            persistent_workers=self.num_workers > 0,
        )
        if self.num_workers > 0:
            self._loader, self._sampler = loader, sampler
        return iter(loader)

    def _gather(self, sampler: EpochBatchSampler) -> Iterator[Tensor]:
        """The epoch's batches indexed straight from the (device-resident) image tensor."""
        images = self._images
        assert images is not None
        order = sampler.indices().to(images.device, non_blocking=True)
        for start in range(0, len(order), self.batch_size):
            yield images[order[start : start + self.batch_size]].float()

    def __iter__(self) -> BatchStream:
        return self

    def __next__(self) -> Tensor:
        if self.batch >= self.batches_per_epoch:
            self.epoch, self.batch, self._iterator = self.epoch + 1, 0, None
        if self._iterator is None:
            self._iterator = self._open()
        batch = next(self._iterator)
        self.batch += 1
        return batch.to(self.device, non_blocking=True)


def resident_images(dataset: object, device: torch.device | str, share: float = 0.25) -> Tensor | None:
    """The dataset's image tensor on ``device``, if it can serve batches by plain indexing.

    Only for a :class:`TensorImageDataset` that keeps the default ``__getitems__`` (a subclass
    that decodes or augments goes through the DataLoader). On a GPU the tensor is copied once if
    it takes at most ``share`` of the free device memory; otherwise ``None``.
    """
    if not isinstance(dataset, TensorImageDataset) or type(dataset).__getitems__ is not TensorImageDataset.__getitems__:
        return None
    images, device = dataset.images, torch.device(device)
    if device.type == "cpu":
        return images
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        if images.numel() * images.element_size() > share * free:
            return None
    return images.to(device)


def _seed_worker(worker_id: int) -> None:
    """Seed NumPy and Python in each loader worker from torch's per-worker seed."""
    import random

    import numpy as np

    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def leading_batches(dataset: object, count: int, batch_size: int, device: torch.device | str) -> Iterator[Tensor]:
    """The first ``count`` images of ``dataset`` in order, ``batch_size`` at a time, on ``device``
    (what a model's ``fit_prior`` sees: the same images on every rank and every call)."""
    gather = getattr(dataset, "__getitems__", None)
    for start in range(0, count, batch_size):
        indices = list(range(start, min(start + batch_size, count)))
        images = gather(indices) if gather else torch.stack([dataset[i] for i in indices])  # type: ignore[index]
        yield images.to(device)
