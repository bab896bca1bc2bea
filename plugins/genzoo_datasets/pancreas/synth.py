"""``genzoo data synth-ct``: a synthetic abdominal CT collection written as real DICOM.

Each patient is one axial CT series (CT Image Storage, Explicit VR Little Endian, int16 stored
values with RescaleSlope 1 / RescaleIntercept -1024, valid deterministic UIDs, IPP/IOP,
PixelSpacing, SliceThickness and SpacingBetweenSlices) of a phantom in Hounsfield units:
an elliptical body with a subcutaneous fat ring and muscle wall, liver, spleen, two kidneys,
a vertebral body with cortical bone and spinal canal, aorta and IVC, a lobulated pancreas-like
blob, bowel gas, and noise. Organ extents vary along z (ellipsoids), and per patient in size and
position, all drawn from ``seed``. Odd patients get the -2048 HU padding outside the
reconstruction circle that some scanners write, so the pipeline's clipping is exercised.

Folder layouts (REFERENCE §5.2): ``"nbia"`` writes
``OUT/manifest-<n>/Pancreas-CT/PANCREAS_0001/<date>-PANCREAS0001-Pancreas-<n>/Pancreas-<n>/1-001.dcm``;
``"legacy"`` writes ``OUT/PANCREAS_0001/<StudyUID>/<SeriesUID>/000001.dcm``. File numbers follow
InstanceNumber, which runs head to feet (decreasing z), as on most scanners, so file order is
the reverse of anatomical order and a loader that sorts by name gets it wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genzoo.errors import DataError

INTERCEPT = -1024.0
FIELD_OF_VIEW_MM = 360.0


@dataclass(frozen=True)
class Organ:
    """An ellipsoid of constant HU: centre and semi-axes in mm (x, y, z)."""

    hu: float
    centre: tuple[float, float, float]
    axes: tuple[float, float, float]


def patient_anatomy(rng: np.random.Generator, z_mid: float) -> dict[str, object]:
    """Random, plausible organ placement for one patient (mm, LPS: +x left, +y posterior)."""
    s = rng.uniform(0.85, 1.1)  # body scale
    j = lambda sd: float(rng.normal(0.0, sd))  # noqa: E731 - small jitter helper
    body = (150.0 * s, 110.0 * s)
    organs = [
        Organ(105.0, (-65 * s + j(5), -5 * s + j(5), z_mid + 45 + j(8)), (70 * s, 65 * s, 80)),  # liver
        Organ(110.0, (75 * s + j(4), 35 * s + j(4), z_mid + 50 + j(8)), (30 * s, 45 * s, 45)),  # spleen
        Organ(160.0, (-70 * s + j(3), 50 * s + j(3), z_mid - 10 + j(5)), (25 * s, 30 * s, 50)),  # right kidney
        Organ(160.0, (70 * s + j(3), 50 * s + j(3), z_mid - 5 + j(5)), (25 * s, 30 * s, 50)),  # left kidney
        Organ(30.0, (-68 * s, 50 * s, z_mid - 10), (8 * s, 10 * s, 25)),  # right renal pelvis
        Organ(30.0, (68 * s, 50 * s, z_mid - 5), (8 * s, 10 * s, 25)),  # left renal pelvis
    ]
    pancreas = Organ(95.0, (5 * s + j(4), 15 * s + j(3), z_mid + 5 + j(5)), (55 * s, 12 * s, 22))
    lobes = rng.uniform(0, 2 * np.pi, size=3)
    gas = [(float(rng.uniform(-80, 80) * s), float(rng.uniform(-80, -30) * s), float(rng.uniform(6, 14))) for _ in range(4)]
    return {"scale": s, "body": body, "organs": organs, "pancreas": pancreas, "lobes": lobes, "gas": gas}


def _ellipsoid_slice(x: np.ndarray, y: np.ndarray, z: float, organ: Organ, angle: float = 0.0) -> np.ndarray:
    cx, cy, cz = organ.centre
    ax, ay, az = organ.axes
    dz = (z - cz) / az
    if abs(dz) >= 1:
        return np.zeros(x.shape, dtype=bool)
    shrink = np.sqrt(1 - dz * dz)
    dx, dy = x - cx, y - cy
    if angle:
        dx, dy = dx * np.cos(angle) + dy * np.sin(angle), -dx * np.sin(angle) + dy * np.cos(angle)
    return (dx / (ax * shrink)) ** 2 + (dy / (ay * shrink)) ** 2 < 1


def phantom_slice(anatomy: dict[str, object], x: np.ndarray, y: np.ndarray, z: float, rng: np.random.Generator, pad_outside_fov: bool) -> np.ndarray:
    """HU image of one axial slice at height ``z`` (mm)."""
    bx, by = anatomy["body"]  # type: ignore[misc]
    s = anatomy["scale"]  # type: ignore[assignment]
    hu = np.full(x.shape, -1000.0, dtype=np.float32)
    r_body = (x / bx) ** 2 + (y / by) ** 2
    hu[r_body < 1] = -100.0  # subcutaneous fat
    r_muscle = (x / (bx - 15)) ** 2 + (y / (by - 15)) ** 2
    hu[r_muscle < 1] = 50.0  # abdominal wall muscle
    r_inner = (x / (bx - 25)) ** 2 + (y / (by - 25)) ** 2
    hu[r_inner < 1] = -60.0  # visceral fat
    for organ in anatomy["organs"]:  # type: ignore[union-attr]
        hu[_ellipsoid_slice(x, y, z, organ)] = organ.hu
    pancreas: Organ = anatomy["pancreas"]  # type: ignore[assignment]
    lobes = anatomy["lobes"]
    wobble = 1 + 0.15 * np.sin(3 * np.arctan2(y - pancreas.centre[1], x - pancreas.centre[0]) + lobes[0])  # type: ignore[index]
    mask = _ellipsoid_slice((x - pancreas.centre[0]) / wobble + pancreas.centre[0], y, z, pancreas, angle=0.3)
    hu[mask] = pancreas.hu
    hu[(x - 15 * s) ** 2 + (y - 40 * s) ** 2 < (11 * s) ** 2] = 180.0  # aorta
    hu[(x + 20 * s) ** 2 + (y - 40 * s) ** 2 < (10 * s) ** 2] = 130.0  # inferior vena cava
    vertebra = (x / (20 * s)) ** 2 + ((y - 72 * s) / (17 * s)) ** 2
    hu[vertebra < 1] = 950.0  # cortical shell
    hu[vertebra < 0.7] = 300.0  # cancellous bone
    hu[x**2 + (y - 98 * s) ** 2 < (7 * s) ** 2] = 20.0  # spinal canal
    for gx, gy, gr in anatomy["gas"]:  # type: ignore[union-attr]
        hu[(x - gx) ** 2 + (y - gy) ** 2 < gr**2] = -950.0
    hu[r_body < 1] += rng.normal(0.0, 12.0, size=int((r_body < 1).sum())).astype(np.float32)
    hu[r_body >= 1] += rng.normal(0.0, 4.0, size=int((r_body >= 1).sum())).astype(np.float32)
    if pad_outside_fov:
        hu[x**2 + y**2 > (FIELD_OF_VIEW_MM / 2) ** 2] = -2048.0
    return hu


def _dataset(meta: dict[str, object], index: int, n_slices: int, z: float, stored: np.ndarray):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID, generate_uid

    sop_uid = generate_uid(entropy_srcs=[str(meta["series_uid"]), str(index)])
    file_meta = FileMetaDataset()
    file_meta.MediaStorageSOPClassUID = CTImageStorage
    file_meta.MediaStorageSOPInstanceUID = sop_uid
    file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    file_meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = Dataset()
    ds.file_meta = file_meta
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, sop_uid
    ds.StudyInstanceUID, ds.SeriesInstanceUID = meta["study_uid"], meta["series_uid"]
    ds.FrameOfReferenceUID = meta["frame_uid"]
    ds.PatientID = ds.PatientName = meta["patient"]
    ds.PatientSex, ds.PatientAge = meta["sex"], meta["age"]
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = meta["date"]
    ds.StudyDescription, ds.SeriesDescription = "Pancreas", "synthetic abdominal phantom (genzoo synth-ct)"
    ds.Modality, ds.Manufacturer, ds.KVP = "CT", "genzoo synth-ct", 120
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.StudyID, ds.SeriesNumber = "1", 1
    ds.InstanceNumber = n_slices - index  # head to feet: highest z gets InstanceNumber 1
    spacing = float(meta["pixel_mm"])  # type: ignore[arg-type]
    rows, cols = stored.shape
    ds.ImagePositionPatient = [-(cols - 1) * spacing / 2, -(rows - 1) * spacing / 2, z]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [spacing, spacing]
    ds.SliceThickness = ds.SpacingBetweenSlices = meta["slice_mm"]
    ds.SliceLocation = z
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.Rows, ds.Columns = rows, cols
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = INTERCEPT, 1, "HU"
    ds.WindowCenter, ds.WindowWidth = 40, 400
    ds.PixelData = stored.astype("<i2").tobytes()
    return ds


def write_collection(out: str | Path, patients: int = 4, *, size: int = 64, slices: int = 24, slice_mm: float = 5.0,
                     seed: int = 0, layout: str = "nbia") -> list[Path]:
    """Write ``patients`` synthetic CT series under ``out``; return the patient folders."""
    if patients < 1 or size < 16 or slices < 2 or slice_mm <= 0:
        raise DataError("synth-ct needs --patients >= 1, --size >= 16, --slices >= 2 and a positive --slice-mm")
    if layout not in ("nbia", "legacy"):
        raise DataError(f"synth-ct layout {layout!r} is unknown; use nbia or legacy")
    from pydicom.uid import generate_uid

    out = Path(out)
    base = out / f"manifest-{1599750808610 + seed}" / "Pancreas-CT" if layout == "nbia" else out
    pixel_mm = FIELD_OF_VIEW_MM / size
    coords = (np.arange(size) - (size - 1) / 2) * pixel_mm
    x, y = np.meshgrid(coords, coords)  # x along columns (patient left), y along rows (posterior)
    folders = []
    for p in range(1, patients + 1):
        rng = np.random.default_rng([seed, p])
        pid = f"PANCREAS_{p:04d}"
        uid = lambda part: generate_uid(entropy_srcs=["genzoo-synth-ct", str(seed), pid, part])  # noqa: E731
        meta = {
            "patient": pid, "study_uid": uid("study"), "series_uid": uid("series"), "frame_uid": uid("frame"),
            "sex": "MF"[p % 2], "age": f"{int(rng.integers(18, 77)):03d}Y", "date": f"2015{1 + p % 12:02d}{1 + p % 28:02d}",
            "pixel_mm": round(pixel_mm, 6), "slice_mm": slice_mm,
        }
        number = 10000 + int(rng.integers(0, 89999))
        if layout == "nbia":
            date = f"{meta['date'][4:6]}-{meta['date'][6:8]}-{meta['date'][:4]}"
            series_dir = base / pid / f"{date}-PANCREAS{p:04d}-Pancreas-{number}" / f"Pancreas-{number + 1}"
        else:
            series_dir = base / pid / str(meta["study_uid"]) / str(meta["series_uid"])
        series_dir.mkdir(parents=True, exist_ok=True)
        anatomy = patient_anatomy(rng, z_mid=0.0)
        z_positions = (np.arange(slices) - (slices - 1) / 2) * slice_mm  # centred on the pancreas
        for i, z in enumerate(z_positions):
            hu = phantom_slice(anatomy, x, y, float(z), rng, pad_outside_fov=p % 2 == 1)
            stored = np.clip(np.round(hu - INTERCEPT), -32768, 32767).astype(np.int16)
            ds = _dataset(meta, i, slices, float(round(z, 4)), stored)
            number_in_file = slices - i  # file names follow InstanceNumber
            name = f"1-{number_in_file:03d}.dcm" if layout == "nbia" else f"{number_in_file:06d}.dcm"
            ds.save_as(series_dir / name, enforce_file_format=True)
        folders.append(base / pid)
    return folders
