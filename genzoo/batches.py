"""A deterministic, resumable, rank-sharded stream of training batches.

Each epoch shuffles the whole data set with a generator seeded by ``(seed, epoch)``, so the order
depends on nothing but those two numbers. Every rank takes its own shard of that permutation. The
stream's position (epoch, batch) is saved in the training state, so a resumed run starts exactly
at the next unseen batch without replaying the data loader.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Sampler

from genzoo.data import collate_images
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

    def __iter__(self) -> Iterator[list[int]]:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.size, generator=generator)
        shard = order[: (self.size // self.world) * self.world][self.rank :: self.world]
        for b in range(self.start, self.batches_per_epoch()):
            yield shard[b * self.batch_size : (b + 1) * self.batch_size].tolist()


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
            persistent_workers=False,
        )
        return iter(loader)

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


def _seed_worker(worker_id: int) -> None:
    """Seed NumPy and Python in each loader worker from torch's per-worker seed."""
    import random

    import numpy as np

    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)
