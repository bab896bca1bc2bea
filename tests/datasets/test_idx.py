"""mnist / fashion-mnist from IDX files: real test split, written files, damaged files, offline."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from genzoo.errors import DataError
from genzoo_datasets import idx

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "mnist"


def write_idx(path: Path, array: np.ndarray, *, gz: bool = True, cut: int = 0) -> Path:
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = (header + array.astype(np.uint8).tobytes())[: -cut or None]
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path = path.with_name(path.name + ".gz")
        with gzip.open(path, "wb") as handle:
            handle.write(data)
    else:
        path.write_bytes(data)
    return path


def write_split(folder: Path, prefix: str, n: int = 6, gz: bool = True, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    write_idx(folder / f"{prefix}-images-idx3-ubyte", images, gz=gz)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels, gz=gz)
    return images, labels


@pytest.mark.skipif(not (SHARED / "t10k-images-idx3-ubyte.gz").is_file(), reason="shared MNIST test files absent (../shared/data/mnist)")
def test_real_mnist_test_split():
    data = idx.mnist_factory({"download": False}, "test", SHARED)
    assert len(data) == 10_000 and data.shape == (1, 28, 28)
    assert data.labels[:8].tolist() == [7, 2, 1, 0, 4, 1, 4, 9]
    assert torch.equal(data.labels.bincount(), torch.tensor([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]))
    assert data.images.min() == -1.0 and data.images.max() == 1.0


@pytest.mark.parametrize("gz", [True, False])
def test_flat_folder_gz_or_raw(tmp_path, gz):
    images, labels = write_split(tmp_path, "train", gz=gz)
    data = idx.mnist_factory({"download": False}, "train", tmp_path)
    assert len(data) == 6
    assert torch.allclose(data[2][0], torch.from_numpy(images[2]).float() / 127.5 - 1)
    assert data.labels.tolist() == labels.tolist()


def test_torchvision_layout_for_both_datasets(tmp_path):
    mnist_images, _ = write_split(tmp_path / "MNIST" / "raw", "t10k", seed=1)
    fashion_images, _ = write_split(tmp_path / "FashionMNIST" / "raw", "t10k", seed=2)
    mnist = idx.mnist_factory({"download": False}, "test", tmp_path)
    fashion = idx.fashion_mnist_factory({"download": False}, "test", tmp_path)
    assert mnist.name == "mnist" and fashion.name == "fashion-mnist"
    assert torch.allclose(mnist.images[:, 0], torch.from_numpy(mnist_images).float() / 127.5 - 1)
    assert torch.allclose(fashion.images[:, 0], torch.from_numpy(fashion_images).float() / 127.5 - 1)


def test_truncated_file_is_a_clear_error(tmp_path):
    write_split(tmp_path, "train")
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((6, 28, 28), np.uint8), cut=100)
    with pytest.raises(DataError, match=r"truncated: header says 6x28x28 = 4704 bytes, found 4604"):
        idx.mnist_factory({"download": False}, "train", tmp_path)


def test_corrupt_gzip_and_bad_magic(tmp_path):
    write_split(tmp_path, "train")
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b\x08\x00garbage that is not deflate")
    with pytest.raises(DataError, match="damaged.*download it again"):
        idx.mnist_factory({"download": False}, "train", tmp_path)
    (tmp_path / "train-images-idx3-ubyte.gz").unlink()
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"PK\x03\x04 a zip file")
    with pytest.raises(DataError, match="not an IDX file"):
        idx.mnist_factory({"download": False}, "train", tmp_path)


def test_images_and_labels_disagree(tmp_path):
    write_split(tmp_path, "train", n=6)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(5, np.uint8))
    with pytest.raises(DataError, match="6 images but .* has 5 labels"):
        idx.mnist_factory({"download": False}, "train", tmp_path)


def test_missing_files_without_download_names_files_and_folders(tmp_path):
    with pytest.raises(DataError) as info:
        idx.fashion_mnist_factory({"download": False}, "train", tmp_path)
    message = str(info.value)
    assert "\n" not in message
    assert "train-images-idx3-ubyte.gz and train-labels-idx1-ubyte.gz" in message
    assert str(tmp_path / "FashionMNIST" / "raw") in message


def test_offline_download_fails_with_one_line(tmp_path, monkeypatch):
    import urllib.error

    import torchvision.datasets

    class Offline:
        def __init__(self, *args, **kwargs):
            raise urllib.error.URLError("no network")

    monkeypatch.setattr(torchvision.datasets, "MNIST", Offline)
    with pytest.raises(DataError) as info:
        idx.mnist_factory(None, "test", tmp_path)
    message = str(info.value)
    assert message.startswith("mnist: downloading failed (URLError: <urlopen error no network>)")
    assert "t10k-images-idx3-ubyte.gz" in message and str(tmp_path / "MNIST" / "raw") in message
    assert "\n" not in message


def test_a_failed_download_says_why_and_leaves_nothing_behind(tmp_path, monkeypatch, capsys):
    """torchvision creates MNIST/raw, prints progress and writes a partial file before it gives up."""
    import torchvision.datasets

    class HalfDownload:
        def __init__(self, root, train, download):
            raw = tmp_path / "data" / "MNIST" / "raw"
            raw.mkdir(parents=True)
            (raw / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b partial")
            print("Downloading https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz")
            raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:\nTried https://ossci-datasets.s3."
                               "amazonaws.com/mnist/, got:\n<urlopen error [Errno -2] Name or service not known>\n")

    keep = tmp_path / "kept.txt"
    keep.write_text("the user's own file")
    monkeypatch.setattr(torchvision.datasets, "MNIST", HalfDownload)
    with pytest.raises(DataError) as info:
        idx.mnist_factory(None, "train", tmp_path / "data")
    message = str(info.value)
    assert "\n" not in message and "Name or service not known" in message and "Error downloading" in message
    assert not (tmp_path / "data").exists() and keep.exists()
    assert capsys.readouterr().out == ""  # torchvision's progress lines do not reach stdout


def test_a_failed_download_keeps_what_was_in_data_dir_before(tmp_path, monkeypatch):
    import torchvision.datasets

    (tmp_path / "MNIST").mkdir()
    (tmp_path / "MNIST" / "notes.txt").write_text("mine")

    class Fails:
        def __init__(self, root, train, download):
            (tmp_path / "MNIST" / "raw").mkdir()
            raise OSError("disk on fire")

    monkeypatch.setattr(torchvision.datasets, "MNIST", Fails)
    with pytest.raises(DataError, match=r"OSError: disk on fire"):
        idx.mnist_factory(None, "train", tmp_path)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["MNIST", "notes.txt"]
