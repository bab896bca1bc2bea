"""``mnist`` and ``fashion-mnist`` from the original IDX files (LeCun's format).

IDX layout (big-endian): two zero bytes, a type code (0x08 = unsigned byte), the number of
dimensions, then one uint32 size per dimension, then the data. Images are ``idx3`` (N, 28, 28),
labels ``idx1`` (N,). Files may be gzipped (``.gz``) or raw, in ``data_dir`` itself or in
torchvision's layout ``data_dir/<MNIST|FashionMNIST>/raw/``. When they are missing and the config
allows it, torchvision downloads them into that layout; offline this fails with one line that
says which files to put where.
"""

from __future__ import annotations

import contextlib
import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from genzoo.config import build
from genzoo.data import TensorImageDataset
from genzoo.errors import DataError
from genzoo.safejson import printable
from genzoo_datasets.cache import cache_root
from genzoo_datasets.configs import IdxConfig

NORMALISATION = {"source": "uint8 0-255", "scale": "x / 127.5 - 1", "range": [-1.0, 1.0]}
SPLIT_PREFIX = {"train": "train", "test": "t10k"}


@dataclass(frozen=True)
class IdxSource:
    """Where one IDX data set comes from."""

    name: str
    torchvision_class: str
    torchvision_folder: str
    url: str


SOURCES = {
    "mnist": IdxSource("mnist", "MNIST", "MNIST", "https://ossci-datasets.s3.amazonaws.com/mnist/"),
    "fashion-mnist": IdxSource(
        "fashion-mnist",
        "FashionMNIST",
        "FashionMNIST",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ),
}


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (gzipped or raw) into a uint8 array, checking its header against its size."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                raw = handle.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path} is damaged ({exc}); delete it and download it again") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise DataError(f"{path} is not an IDX file (bad magic number); expected e.g. train-images-idx3-ubyte.gz")
    type_code, ndim = raw[2], raw[3]
    if type_code != 0x08:
        raise DataError(f"{path}: IDX type 0x{type_code:02x} is not unsigned bytes (0x08)")
    header_size = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header_size:
        raise DataError(f"{path} is truncated inside its header; delete it and download it again")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape))
    found = len(raw) - header_size
    if found != expected:
        state = "truncated" if found < expected else "longer than its header says"
        raise DataError(
            f"{path} is {state}: header says {'x'.join(map(str, shape))} = {expected} bytes, found {found}; "
            "delete it and download it again"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape)


def find_file(folders: list[Path], stem: str) -> Path | None:
    """The first ``stem`` or ``stem.gz`` found in ``folders``."""
    for folder in folders:
        for candidate in (folder / stem, folder / f"{stem}.gz"):
            if candidate.is_file():
                return candidate
    return None


def search_folders(source: IdxSource, data_dir: Path) -> list[Path]:
    """``data_dir`` itself, then torchvision's ``data_dir/<Class>/raw``."""
    return [data_dir, data_dir / source.torchvision_folder / "raw"]


def download(source: IdxSource, data_dir: Path, split: str) -> None:
    """Download through torchvision into ``data_dir/<Class>/raw``; offline -> :class:`DataError`.

    A failed download says why (the mirrors' errors, on the one line) and removes every folder and
    partial file it created, so the next try does not find an empty or half-written tree.
    """
    import io

    import torchvision.datasets

    dataset_class = getattr(torchvision.datasets, source.torchvision_class)
    target = data_dir / source.torchvision_folder  # torchvision writes only below data_dir/<Class>
    created_data_dir = not data_dir.exists()
    before = existing_paths(target)
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # torchvision prints progress on stdout (--json reads it)
            dataset_class(root=str(data_dir), train=split == "train", download=True)
    except BaseException as exc:  # noqa: BLE001 - urllib, socket and torchvision raise many types; Ctrl-C too
        remove_new_paths(target, before)
        if created_data_dir:
            with contextlib.suppress(OSError):
                data_dir.rmdir()  # only if empty
        if not isinstance(exc, Exception):
            raise
        reason = printable(" ".join(f"{type(exc).__name__}: {exc}".split()), 300)
        raise DataError(f"{source.name}: downloading failed ({reason}); " + missing_files_hint(source, data_dir, split)) from None


def existing_paths(root: Path) -> set[Path]:
    """``root`` and everything under it that exists now (empty when ``root`` does not)."""
    return {root, *root.rglob("*")} if root.exists() else set()


def remove_new_paths(root: Path, before: set[Path]) -> None:
    """Delete what appeared under ``root`` (and ``root`` itself) since ``before`` was taken; keep the rest.
    Symbolic links are removed, never followed; folders only when empty."""
    for path in sorted(existing_paths(root) - before, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            path.rmdir() if path.is_dir() and not path.is_symlink() else path.unlink()


def missing_files_hint(source: IdxSource, data_dir: Path, split: str) -> str:
    """One sentence naming the files a user must put where."""
    prefix = SPLIT_PREFIX[split]
    return (
        f"put {prefix}-images-idx3-ubyte.gz and {prefix}-labels-idx1-ubyte.gz (from {source.url}) "
        f"in {data_dir} or {data_dir / source.torchvision_folder / 'raw'}"
    )


def load_split(source: IdxSource, data_dir: Path, split: str, allow_download: bool) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) and labels (N,) of one split, downloading them if allowed and missing."""
    if split not in SPLIT_PREFIX:
        raise DataError(f"{source.name} has no split {split!r}; use train or test")
    prefix = SPLIT_PREFIX[split]
    stems = (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")
    folders = search_folders(source, data_dir)
    paths = [find_file(folders, stem) for stem in stems]
    if None in paths:
        if not allow_download:
            raise DataError(f"{source.name}: files not found (download is off); " + missing_files_hint(source, data_dir, split))
        download(source, data_dir, split)
        paths = [find_file(folders, stem) for stem in stems]
        if None in paths:
            raise DataError(f"{source.name}: download finished but files are missing; " + missing_files_hint(source, data_dir, split))
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    if images.ndim != 3 or labels.ndim != 1:
        raise DataError(f"{paths[0]} / {paths[1]}: expected images (N, H, W) and labels (N,), got {images.shape} and {labels.shape}")
    if len(images) != len(labels):
        raise DataError(f"{paths[0]} has {len(images)} images but {paths[1]} has {len(labels)} labels; re-download both")
    if labels.max(initial=0) > 9:
        raise DataError(f"{paths[1]}: labels above 9; is it a label file of {source.name}?")
    return images, labels


def make_factory(name: str):
    """The ``factory(config, split, data_dir)`` of one IDX data set."""
    source = SOURCES[name]

    def factory(config: IdxConfig | dict | None, split: str, data_dir: str | Path | None = None) -> TensorImageDataset:
        if config is None or isinstance(config, dict):
            config = build(IdxConfig, config or {})
        folder = Path(data_dir).expanduser() if data_dir else cache_root() / "datasets" / name
        images, labels = load_split(source, folder, split, config.download)
        tensor = torch.from_numpy(images.copy()).float().div_(127.5).sub_(1.0).unsqueeze(1)
        return TensorImageDataset(tensor, torch.from_numpy(labels.astype(np.int64)), name=name, normalisation=NORMALISATION)

    factory.__name__ = f"{name.replace('-', '_')}_factory"
    factory.__doc__ = f"Build a split of {name} from IDX files in ``data_dir`` (see :mod:`genzoo_datasets.idx`)."
    return factory


mnist_factory = make_factory("mnist")
fashion_mnist_factory = make_factory("fashion-mnist")
