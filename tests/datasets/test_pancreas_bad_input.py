"""Bad input is skipped and reported by count and file, never silently; good files are still used."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import JPEGLSLossless, generate_uid

from genzoo.errors import DataError
from genzoo_datasets.configs import PancreasConfig
from genzoo_datasets.pancreas.prepare import prepare
from genzoo_datasets.pancreas.scan import read_header

from .conftest import SYNTH

CONFIG = PancreasConfig(size=16, workers=1, test_fraction=0.34)
GOOD_SLICES = SYNTH["patients"] * SYNTH["slices"]


def a_slice(root: Path) -> Path:
    return sorted(root.rglob("PANCREAS_0001/**/1-005.dcm"))[0]


def variant(source: Path, target: Path, *, new_series: bool = True, **changes) -> Path:
    """Copy a slice with new UIDs (so it is a separate object) and some attributes changed."""
    ds = pydicom.dcmread(source)
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[str(target)])
    if new_series:
        ds.SeriesInstanceUID = generate_uid(entropy_srcs=[str(target), "series"])
    for key, value in changes.items():
        if value is None:
            delattr(ds, key)
        else:
            setattr(ds, key, value)
    target.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(target)
    return target


def decoder_missing(uid) -> bool:
    from pydicom.pixels import get_decoder

    return not get_decoder(uid).is_available


def add_bad_files(root: Path) -> dict[str, str]:
    """Every kind of bad input next to a good collection; returns {relative path: expected category}."""
    good = a_slice(root)
    bad = root / "bad"
    bad.mkdir()
    expected = {}
    truncated = bad / "truncated.dcm"
    data = good.read_bytes()
    truncated.write_bytes(data[: len(data) - 300])
    expected["bad/truncated.dcm"] = "unreadable"
    (bad / "garbage.dcm").write_bytes(b"\x00" * 128 + b"DICM" + b"\xff" * 40)
    expected["bad/garbage.dcm"] = "unreadable"
    variant(good, bad / "no_intercept.dcm", RescaleIntercept=None)
    expected["bad/no_intercept.dcm"] = "missing-tags"
    variant(good, bad / "mr.dcm", Modality="MR")
    expected["bad/mr.dcm"] = "not-ct"
    variant(good, bad / "scout.dcm", ImageType=["ORIGINAL", "PRIMARY", "LOCALIZER"])
    expected["bad/scout.dcm"] = "localizer"
    variant(good, bad / "sagittal.dcm", ImageOrientationPatient=[0, 1, 0, 0, 0, -1])
    expected["bad/sagittal.dcm"] = "not-axial"
    # same series, different matrix size: inconsistent with its series
    ds = pydicom.dcmread(good)
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=["odd"])
    ds.Rows = ds.Columns = 8
    ds.ImagePositionPatient = [0, 0, 999.0]
    ds.PixelData = np.zeros((8, 8), np.int16).tobytes()
    ds.save_as(bad / "odd_size.dcm")
    expected["bad/odd_size.dcm"] = "inconsistent"
    shutil.copy(pydicom.data.get_testdata_file("DICOMDIR", download=False), bad / "DICOMDIR")
    expected["bad/DICOMDIR"] = "not-image"
    (bad / "metadata.csv").write_text("Series UID,Collection\n")
    expected["bad/metadata.csv"] = "not-dicom"
    if decoder_missing(JPEGLSLossless):
        ds = pydicom.dcmread(good)
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=["jls"])
        ds.SeriesInstanceUID = generate_uid(entropy_srcs=["jls-series"])
        ds.file_meta.TransferSyntaxUID = JPEGLSLossless
        ds.PixelData = pydicom.encaps.encapsulate([b"\xff\xd8\xff\xf7" + b"\x00" * 60])
        ds["PixelData"].VR = "OB"
        ds.save_as(bad / "jpegls.dcm", enforce_file_format=True)
        expected["bad/jpegls.dcm"] = "no-decoder"
    return expected


def test_every_bad_file_is_skipped_reported_and_good_files_used(synth_copy, tmp_path, capsys):
    expected = add_bad_files(synth_copy)
    result = prepare(synth_copy, CONFIG, folder=tmp_path / "cache", progress=False)
    splits = result.manifest["splits"]
    assert splits["train"]["count"] + splits["test"]["count"] == GOOD_SLICES  # every good slice kept
    skipped = {s["file"]: s for s in result.manifest["skipped"]}
    assert {f: s["category"] for f, s in skipped.items()} == expected
    assert "truncated" in skipped["bad/truncated.dcm"]["reason"]
    assert "RescaleIntercept" in skipped["bad/no_intercept.dcm"]["reason"]
    assert "shape (8, 8) vs (32, 32)" in skipped["bad/odd_size.dcm"]["reason"]
    err = capsys.readouterr().err
    n_rejected = len(expected) - 1  # metadata.csv is ignored, not rejected
    assert f"pancreas: skipped {n_rejected} of {GOOD_SLICES + len(expected)} files and ignored 1 non-DICOM file" in err
    assert "2 unreadable or truncated: bad/garbage.dcm" in err and "bad/truncated.dcm: truncated" in err
    assert "1 missing required tags: bad/no_intercept.dcm: missing RescaleIntercept" in err
    assert "1 not CT: bad/mr.dcm: modality MR" in err
    assert "1 localizer/scout: bad/scout.dcm" in err and "1 not axial: bad/sagittal.dcm" in err
    assert "1 inconsistent with the rest of their series: bad/odd_size.dcm" in err
    assert "DICOMDIR (media storage directory)" in err
    if "bad/jpegls.dcm" in expected:
        assert "1 compressed with no decoder installed: bad/jpegls.dcm: JPEG-LS Lossless" in err
        assert "pylibjpeg" in err
    manifest = json.loads((tmp_path / "cache" / "manifest.json").read_text())
    assert len(manifest["skipped"]) == len(expected)
    # a second run reuses the cache and still says that files were skipped
    prepare(synth_copy, CONFIG, folder=tmp_path / "cache", progress=False)
    assert f"{len(expected)} files were skipped when it was built" in capsys.readouterr().err


def test_duplicate_positions_are_reported(synth_copy, tmp_path, capsys):
    good = a_slice(synth_copy)
    variant(good, good.parent / "copy-of-5.dcm", new_series=False)
    result = prepare(synth_copy, CONFIG, folder=tmp_path / "cache", progress=False)
    (dup,) = result.manifest["skipped"]
    assert dup["category"] == "duplicate" and "same position as" in dup["reason"]
    assert sum(result.manifest["splits"][s]["count"] for s in ("train", "test")) == GOOD_SLICES
    assert "1 duplicate slice positions" in capsys.readouterr().err


def test_slice_that_fails_to_decode_is_skipped_in_2d_and_rejects_the_volume_in_3d(synth_copy, tmp_path, monkeypatch):
    from genzoo_datasets.pancreas import process

    real = process.decode_slice
    broken = a_slice(synth_copy).name

    def flaky(path):
        if path.name == broken and "PANCREAS_0001" in str(path):
            raise ValueError("corrupt pixel stream")
        return real(path)

    monkeypatch.setattr(process, "decode_slice", flaky)
    result = prepare(synth_copy, CONFIG, folder=tmp_path / "c2", progress=False)
    (skip,) = result.manifest["skipped"]
    assert skip["category"] == "unreadable" and "corrupt pixel stream" in skip["reason"]
    assert sum(result.manifest["splits"][s]["count"] for s in ("train", "test")) == GOOD_SLICES - 1
    config3d = PancreasConfig(mode="3d", size=8, workers=1, test_fraction=0.34)
    result3d = prepare(synth_copy, config3d, folder=tmp_path / "c3", progress=False)
    counts = [result3d.manifest["splits"][s]["count"] for s in ("train", "test")]
    assert sum(counts) == SYNTH["patients"] - 1
    assert any(e["error"] for e in result3d.manifest["series"])


def test_missing_and_empty_folders(tmp_path):
    with pytest.raises(DataError, match="is not a folder"):
        prepare(tmp_path / "nope", CONFIG, folder=tmp_path / "c", progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no files under"):
        prepare(tmp_path / "empty", CONFIG, folder=tmp_path / "c", progress=False)
    from genzoo_datasets.pancreas.dataset import factory

    with pytest.raises(DataError, match="needs --data-dir"):
        factory(None, "train", None)


def test_header_of_a_file_cut_inside_its_header(tmp_path, synth_source):
    data = a_slice(synth_source).read_bytes()
    (tmp_path / "x.dcm").write_bytes(data[:200])
    record = read_header(tmp_path, "x.dcm")
    assert record["category"] in {"unreadable", "missing-tags"} and record["file"] == "x.dcm"
