"""Preparation of a synthetic collection: 2D/3D, splits by patient, layouts, workers, incremental rebuilds."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from genzoo.errors import DataError
from genzoo_datasets.configs import PancreasConfig
from genzoo_datasets.pancreas import dataset, transform
from genzoo_datasets.pancreas.prepare import prepare, split_patients
from genzoo_datasets.pancreas.synth import write_collection

from .conftest import SYNTH

CONFIG = PancreasConfig(size=16, workers=1, test_fraction=0.34)


def test_2d_slices_split_by_patient(synth_source, tmp_path):
    result = prepare(synth_source, CONFIG, folder=tmp_path / "c", progress=False)
    splits = result.manifest["splits"]
    assert splits["train"]["count"] + splits["test"]["count"] == SYNTH["patients"] * SYNTH["slices"]
    assert len(splits["test"]["patients"]) == 1 and len(splits["train"]["patients"]) == 2
    assert not set(splits["train"]["patients"]) & set(splits["test"]["patients"])
    train = np.load(result.split_path("train"), mmap_mode="r")
    assert train.shape == (20, 1, 16, 16) and train.dtype == np.float16
    assert train.min() == -1.0 and train.max() <= 1.0 and train.max() > 0.5
    assert len(result.manifest["files"]) == 30 and result.manifest["skipped"] == []


def test_factory_prepares_on_first_use_then_opens_the_cache(synth_source, private_cache):
    train = dataset.factory({"size": 16}, "train", synth_source)
    test = dataset.factory({"size": 16}, "test", synth_source)
    assert len(train) + len(test) == 30 and train.shape == (1, 16, 16)
    batch = train.__getitems__([0, 3, 5])
    assert batch.shape == (3, 1, 16, 16) and batch.dtype == torch.float32
    assert train.normalisation["window"] == {"width": 400.0, "level": 40.0}
    # the cache folder itself is a valid data_dir, with no DICOM around
    reopened = dataset.factory({"size": 16}, "train", train.folder)
    assert torch.equal(reopened.images, train.images)
    with pytest.raises(DataError, match="holds 2d 16 samples but the config asks for 3d 16"):
        dataset.factory({"size": 16, "mode": "3d"}, "train", train.folder)


def test_3d_volumes_one_per_patient(synth_source, tmp_path):
    config = PancreasConfig(mode="3d", size=16, workers=1, test_fraction=0.34)
    result = prepare(synth_source, config, folder=tmp_path / "c", progress=False)
    volumes = np.load(result.split_path("train"))
    assert volumes.shape == (2, 1, 16, 16, 16)
    # preserve_aspect pads 40 mm of slices into a 360 mm cube: the top and bottom are air (-1)
    assert np.all(volumes[:, :, 0] == -1.0) and volumes[:, :, 8].max() > 0.5


def test_both_nbia_layouts_give_identical_samples(tmp_path):
    small = dict(SYNTH, patients=2)
    write_collection(tmp_path / "new", **small, layout="nbia")
    write_collection(tmp_path / "old", **small, layout="legacy")
    assert next((tmp_path / "old").glob("PANCREAS_0001/*/*/000001.dcm"))
    assert next((tmp_path / "new").glob("manifest-*/Pancreas-CT/PANCREAS_0001/*-PANCREAS0001-Pancreas-*/Pancreas-*/1-001.dcm"))
    a = prepare(tmp_path / "new", CONFIG, folder=tmp_path / "ca", progress=False)
    b = prepare(tmp_path / "old", CONFIG, folder=tmp_path / "cb", progress=False)
    for split in ("train", "test"):
        np.testing.assert_array_equal(np.load(a.split_path(split)), np.load(b.split_path(split)))


def test_worker_processes_match_inline(synth_source, tmp_path):
    inline = prepare(synth_source, CONFIG, folder=tmp_path / "a", progress=False)
    pooled = prepare(synth_source, PancreasConfig(size=16, workers=2, test_fraction=0.34), folder=tmp_path / "b", progress=False)
    np.testing.assert_array_equal(np.load(inline.split_path("train")), np.load(pooled.split_path("train")))
    assert pooled.headers_read == 30 and pooled.series_built == 3


def test_rebuilds_only_what_changed(synth_copy, tmp_path, capsys):
    folder = tmp_path / "cache"
    first = prepare(synth_copy, CONFIG, folder=folder, progress=False)
    assert (first.headers_read, first.series_built, first.series_reused) == (30, 3, 0)
    again = prepare(synth_copy, CONFIG, folder=folder, progress=False)
    assert (again.headers_read, again.series_built, again.series_reused, again.splits_written) == (0, 0, 3, [])

    touched = sorted(synth_copy.rglob("PANCREAS_0002/**/*.dcm"))[0]
    stat = touched.stat()
    os.utime(touched, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    changed = prepare(synth_copy, CONFIG, folder=folder, progress=False)
    assert (changed.headers_read, changed.series_built, changed.series_reused) == (1, 1, 2)

    window = prepare(synth_copy, PancreasConfig(size=16, workers=1, test_fraction=0.34, window_width=1500), folder=folder, progress=False)
    assert window.series_built == 3 and window.headers_read == 0
    assert len(list((folder / "series").glob("*.npy"))) == 3  # stale series files removed

    write_collection(synth_copy / "extra", **dict(SYNTH, patients=1, seed=99))
    for path in (synth_copy / "extra").rglob("*.dcm"):  # a new patient, distinct from PANCREAS_0001
        import pydicom

        ds = pydicom.dcmread(path)
        ds.PatientID = "PANCREAS_0099"
        ds.save_as(path)
    grown = prepare(synth_copy, PancreasConfig(size=16, workers=1, test_fraction=0.34, window_width=1500), folder=folder, progress=False)
    assert (grown.headers_read, grown.series_built, grown.series_reused) == (10, 1, 3)
    assert len(grown.manifest["series"]) == 4


def test_body_only_drops_slices_outside_the_body(tmp_path):
    write_collection(tmp_path / "src", patients=1, size=32, slices=6, seed=3)
    all_slices = prepare(tmp_path / "src", PancreasConfig(size=16, workers=1), folder=tmp_path / "a", progress=False)
    assert all_slices.manifest["splits"]["train"]["count"] == 6
    strict = PancreasConfig(size=16, workers=1, body_only=True, min_body_fraction=0.99)
    with pytest.raises(DataError, match="no slice survived the body_only filter"):
        prepare(tmp_path / "src", strict, folder=tmp_path / "b", progress=False)
    loose = PancreasConfig(size=16, workers=1, body_only=True, min_body_fraction=0.2)
    assert prepare(tmp_path / "src", loose, folder=tmp_path / "c", progress=False).manifest["splits"]["train"]["count"] == 6


def test_split_patients_is_deterministic_and_never_empty():
    patients = [f"P{i}" for i in range(10)]
    a = split_patients(patients, 0.2)
    assert a == split_patients(list(reversed(patients)), 0.2)
    assert sum(v == "test" for v in a.values()) == 2
    assert list(split_patients(["A", "B"], 0.01).values()).count("test") == 1
    assert split_patients(["A"], 0.2) == {"A": "train"}


def test_single_patient_has_no_test_split(tmp_path):
    write_collection(tmp_path / "src", patients=1, size=16, slices=4, seed=1)
    with pytest.raises(DataError, match="split 'test' .* is empty \\(1 patient"):
        dataset.factory({"size": 16}, "test", tmp_path / "src")


def test_window_and_resample_maths():
    hu = np.array([-2048.0, -1000.0, -160.0, 40.0, 240.0, 3000.0], dtype=np.float32)
    assert transform.to_hu(np.array([-1024, 0]), 1.0, -1024.0).tolist() == [-1024.0, -1024.0]
    np.testing.assert_allclose(transform.window(hu, 400, 40), [-1, -1, -1, 0, 1, 1])
    for n_in, n_out in [(7, 3), (4, 2), (3, 8), (16, 16)]:
        weights = transform.resample_matrix(n_in, n_out)
        np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(transform.resample_matrix(4, 2) @ np.array([1.0, 3.0, 5.0, 7.0]), [2.0, 6.0])
    image = np.arange(12, dtype=np.float32).reshape(3, 4)
    np.testing.assert_allclose(transform.resize_plane(image, 3, 4), image, atol=1e-6)


def test_synth_ct_is_valid_deterministic_dicom_in_hu(tmp_path):
    import pydicom
    from pydicom.uid import CTImageStorage

    write_collection(tmp_path / "a", patients=2, size=32, slices=3, seed=5)
    write_collection(tmp_path / "b", patients=2, size=32, slices=3, seed=5)
    write_collection(tmp_path / "c", patients=2, size=32, slices=3, seed=6)
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.dcm"))
    assert len(files_a) == 6
    same = [(tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files_a]
    assert all(same)
    ds = pydicom.dcmread(next((tmp_path / "a").rglob("PANCREAS_0001/**/1-002.dcm")))
    assert ds.SOPClassUID == CTImageStorage and ds.Modality == "CT" and ds.file_meta.TransferSyntaxUID.is_little_endian
    assert ds.SOPInstanceUID.is_valid and ds.SeriesInstanceUID.is_valid and ds.StudyInstanceUID.is_valid
    assert ds.RescaleSlope == 1 and ds.RescaleIntercept == -1024 and ds.pixel_array.dtype == np.int16
    assert ds.ImageOrientationPatient == [1, 0, 0, 0, 1, 0] and len(ds.PixelSpacing) == 2
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    assert hu.min() == -2048  # odd patients: padding outside the reconstruction circle
    assert abs(np.median(hu[0]) + 2048) < 1 or abs(np.median(hu[0]) + 1000) < 50
    assert hu.max() > 700  # cortical bone
    centre = hu[12:20, 12:20]
    assert -200 < np.median(centre) < 250  # soft tissue inside the abdomen
    other = next((tmp_path / "c").rglob("PANCREAS_0001/**/1-002.dcm"))
    assert not np.array_equal(pydicom.dcmread(other).pixel_array, ds.pixel_array)
