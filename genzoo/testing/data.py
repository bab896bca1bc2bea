"""Contract checks for data set plugins: what the trainer and the metrics rely on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from genzoo.data import ImageDataset
from genzoo.registry import get_registry


def _indices(n: int, limit: int) -> list[int]:
    """Up to ``limit`` indices spread over ``range(n)``, always the first and the last."""
    if n <= limit:
        return list(range(n))
    return sorted({round(i * (n - 1) / (limit - 1)) for i in range(limit)})


def check_dataset_contract(
    name: str, config: Any = None, data_dir: str | Path | None = None, *, items: int = 16
) -> dict[str, ImageDataset]:
    """Data set ``name`` builds every split its spec declares and each split follows the contract.

    Checked: ``eval_split`` is one of the splits; each split is a non-empty :class:`ImageDataset`
    whose ``shape`` is ``(C, H, W)`` or ``(C, D, H, W)``; ``items`` items spread over the split are
    float tensors of that shape, finite and in [-1, 1]; ``normalisation`` is a JSON-ready dict (it
    goes into every checkpoint); ``labels``, if any, are integers, one per item; and building the
    split again gives the same items (the data order and the held-out scores depend on it).
    Returns the data sets by split.
    """
    registry = get_registry()
    spec = registry.get("dataset", name)
    assert spec.splits, f"{name}: the spec declares no splits"
    assert spec.eval_split in spec.splits, f"{name}: eval_split {spec.eval_split!r} is not one of {spec.splits}"
    built: dict[str, ImageDataset] = {}
    for split in spec.splits:
        where = f"{name}/{split}"
        dataset = registry.build_dataset(name, config, split, data_dir)
        assert isinstance(dataset, ImageDataset), f"{where}: the factory returned {type(dataset).__name__}, not an ImageDataset"
        n = len(dataset)
        assert n > 0, f"{where} is empty"
        shape = tuple(dataset.shape)
        assert len(shape) in (3, 4) and all(isinstance(d, int) and d > 0 for d in shape), (
            f"{where}: shape must be (C, H, W) or (C, D, H, W), got {shape}"
        )
        assert isinstance(dataset.normalisation, dict), f"{where}: normalisation must be a dict"
        try:
            json.dumps(dataset.normalisation)
        except TypeError as exc:
            raise AssertionError(f"{where}: normalisation is not JSON-ready ({exc})") from None
        again = registry.build_dataset(name, config, split, data_dir)
        assert len(again) == n, f"{where}: a second build has {len(again)} items, the first {n}"
        for index in _indices(n, items):
            item = dataset[index]
            assert isinstance(item, torch.Tensor) and item.is_floating_point(), f"{where}[{index}] is not a float tensor"
            assert tuple(item.shape) == shape, f"{where}[{index}] has shape {tuple(item.shape)}, the data set says {shape}"
            assert torch.isfinite(item).all(), f"{where}[{index}] is not finite"
            low, high = float(item.min()), float(item.max())
            assert -1 <= low and high <= 1, f"{where}[{index}] leaves [-1, 1]: [{low}, {high}]"
            assert torch.equal(item, again[index]), f"{where}[{index}] differs between two builds"
        labels = dataset.labels
        if labels is not None:
            assert isinstance(labels, torch.Tensor) and not labels.is_floating_point(), f"{where}: labels must be an integer tensor"
            assert len(labels) == n, f"{where}: {len(labels)} labels for {n} items"
        built[split] = dataset
    return built
