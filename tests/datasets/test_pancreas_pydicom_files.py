"""Series assembly on pydicom's bundled CT files (REFERENCE §5.5): order, spacing, HU, gaps, scouts."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from genzoo.errors import DataError
from genzoo_datasets.configs import PancreasConfig
from genzoo_datasets.pancreas import process, scan, series, transform
from genzoo_datasets.pancreas.prepare import prepare

pydicom_data = pytest.importorskip("pydicom.data")
CT5N = sorted(pydicom_data.get_testdata_files("dicomdirtests/98892001/CT5N/*"))
CT2 = sorted(pydicom_data.get_testdata_files("dicomdirtests/77654033/CT2/*"))
CT2N = sorted(pydicom_data.get_testdata_files("dicomdirtests/98892001/CT2N/*"))
DICOMDIR = pydicom_data.get_testdata_file("DICOMDIR", download=False)
pytestmark = pytest.mark.skipif(len(CT5N) != 5 or len(CT2) != 4 or not CT2N, reason="pydicom test files missing")


def copy_shuffled(files: list[str], folder: Path, seed: int = 0) -> dict[str, str]:
    """Copy ``files`` under shuffled names; return {new name: original basename}."""
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"{i:03d}.dcm" for i in range(len(files))]
    random.Random(seed).shuffle(names)
    mapping = {}
    for name, source in zip(names, files):
        shutil.copy(source, folder / name)
        mapping[name] = Path(source).name
    return mapping


def scan_folder(root: Path) -> list[dict]:
    return [scan.read_header(root, rel) for rel, _, _ in scan.walk_files(root)]


def test_ct5n_order_follows_position_not_names_or_instance_number(tmp_path):
    mapping = copy_shuffled(CT5N, tmp_path / "PANCREAS_0001" / "study" / "series")
    records = scan_folder(tmp_path)
    assert all(r["category"] == "ok" for r in records)
    (uid, members), = series.group_series(records).items()
    built, skips = series.build_series(uid, members, tolerance=0.01, mode="3d", min_slices=4)
    assert not skips and built is not None
    # inferior to superior: IPP z -1.2375, 1.2625, 3.7625, 6.2625, 8.7625 (InstanceNumber 10..6)
    originals = [mapping[Path(f).name] for f in built.files]
    assert originals == ["3353", "3023", "2693", "2392", "2062"]
    assert built.spacing == pytest.approx((2.5, 0.488281, 0.488281))
    assert built.shape == (16, 16) and not built.gaps


def test_ct5n_hu_is_stored_minus_1024():
    import pydicom

    ds = pydicom.dcmread(CT5N[0])
    stored = ds.pixel_array
    hu = transform.to_hu(stored, float(ds.RescaleSlope), float(ds.RescaleIntercept))
    expected = np.clip(stored.astype(np.float32) - 1024, -1024, 3071)
    np.testing.assert_array_equal(hu, expected)


def test_ct5n_prepares_a_3d_volume(tmp_path):
    copy_shuffled(CT5N, tmp_path / "src" / "P1")
    config = PancreasConfig(mode="3d", size=8, min_slices=4, test_fraction=0.0, preserve_aspect=False, workers=1)
    result = prepare(tmp_path / "src", config, folder=tmp_path / "cache", progress=False)
    volume = np.load(result.split_path("train"))
    assert volume.shape == (1, 1, 8, 8, 8) and volume.dtype == np.float16
    # reference: decode in IPP order, window W400/L40, resample separably
    import pydicom

    stack = []
    for name in ["3353", "3023", "2693", "2392", "2062"]:
        ds = pydicom.dcmread(next(f for f in CT5N if f.endswith(name)))
        stack.append(transform.window(transform.to_hu(ds.pixel_array, 1.0, -1024.0), 400, 40))
    stack = np.stack(stack)
    planes = np.stack([transform.resize_plane(p, 8, 8) for p in stack])
    expected = transform.resize_axis0(planes, 8)
    np.testing.assert_allclose(volume[0, 0].astype(np.float32), expected, atol=2e-3)


def test_ct2_gap_is_reported_2d_keeps_all_3d_keeps_longest_run(tmp_path, capsys):
    copy_shuffled(CT2, tmp_path / "P" / "s")
    records = scan_folder(tmp_path)
    (uid, members), = series.group_series(records).items()
    built_2d, skips_2d = series.build_series(uid, members, tolerance=0.01, mode="2d", min_slices=2)
    assert len(built_2d.files) == 4 and not skips_2d
    assert len(built_2d.gaps) == 1 and "step of 202.500 mm" in built_2d.gaps[0] and "median 1.250 mm" in built_2d.gaps[0]
    built_3d, skips_3d = series.build_series(uid, members, tolerance=0.01, mode="3d", min_slices=3)
    assert len(built_3d.files) == 3 and built_3d.spacing[0] == pytest.approx(1.25, abs=1e-3)
    assert [s["category"] for s in skips_3d] == ["gap"]
    none, short = series.build_series(uid, members, tolerance=0.01, mode="3d", min_slices=4)
    assert none is None and {s["category"] for s in short} == {"gap", "short-series"}
    # and the gap reaches the user through prepare's stderr summary
    prepare(tmp_path, PancreasConfig(size=8, workers=1, test_fraction=0.0), folder=tmp_path / "cache", progress=False)
    err = capsys.readouterr().err
    assert "spacing gap, step of 202.500 mm" in err


def test_scouts_dicomdir_and_text_rejected_with_reasons(tmp_path):
    for i, path in enumerate(CT2N):
        shutil.copy(path, tmp_path / f"scout{i}.dcm")
    shutil.copy(DICOMDIR, tmp_path / "DICOMDIR")
    (tmp_path / "notes.txt").write_text("hello")
    records = {r["file"]: r for r in scan_folder(tmp_path)}
    assert records["scout0.dcm"]["category"] == "localizer" and "LOCALIZER" in records["scout0.dcm"]["reason"]
    assert records["DICOMDIR"]["category"] == "not-image"
    assert records["notes.txt"]["category"] == "not-dicom"
    with pytest.raises(DataError) as info:
        prepare(tmp_path, PancreasConfig(workers=1), folder=tmp_path / "cache", progress=False)
    message = str(info.value)
    assert "no usable axial CT series" in message
    assert "found 4 files: 1 not an image" in message and "2 localizer/scout" in message and "1 not DICOM" in message


def test_ct_small_single_slice_is_usable_in_2d(tmp_path):
    shutil.copy(pydicom_data.get_testdata_file("CT_small.dcm", download=False), tmp_path / "a.dcm")
    result = prepare(tmp_path, PancreasConfig(size=16, workers=1), folder=tmp_path / "cache", progress=False)
    assert result.manifest["splits"]["train"]["count"] == 1
    sample = np.load(result.split_path("train"))
    assert sample.shape == (1, 1, 16, 16) and -1 <= sample.min() < sample.max() <= 1
    decoded = process.decode_slice(tmp_path / "a.dcm")
    assert decoded.shape == (128, 128) and decoded.dtype == np.int16
