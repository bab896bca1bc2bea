"""Walk a DICOM collection and read each file's header into a small JSON-ready record.

A file is kept only when it is an uncompressed or decodable CT Image Storage object with pixel
data, not a localizer, with an axial orientation and every tag the volume builder needs
(REFERENCE §5.3). Anything else becomes a skip record naming the file and the reason. Both NBIA
layouts (``PANCREAS_0001/<study>/<series>/1-001.dcm`` and the older
``PANCREAS_0001/<StudyUID>/<SeriesUID>/000001.dcm``) are just trees: grouping is by
SeriesInstanceUID, never by folder.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from genzoo_datasets.pancreas.report import make_skip

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
ENHANCED_CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2.1"
MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"
REQUIRED_TAGS = (
    "SeriesInstanceUID",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "PixelSpacing",
    "Rows",
    "Columns",
    "BitsAllocated",
    "PixelRepresentation",
    "RescaleSlope",
    "RescaleIntercept",
)
AXIAL_MIN_COSINE = 0.9  # |slice normal . z| above this (about 25 degrees of tilt) counts as axial
IGNORED_NAMES = {".DS_Store", "Thumbs.db"}


def walk_files(root: Path, exclude: Path | None = None) -> list[tuple[str, int, int]]:
    """``(relative path, size, mtime_ns)`` of every regular file under ``root``, sorted."""
    found: list[tuple[str, int, int]] = []
    exclude_str = str(exclude.resolve()) if exclude is not None else None
    for folder, dirs, files in os.walk(root):
        if exclude_str is not None:
            dirs[:] = [d for d in dirs if str(Path(folder, d).resolve()) != exclude_str]
        dirs.sort()
        for name in sorted(files):
            if name in IGNORED_NAMES:
                continue
            path = Path(folder, name)
            try:
                stat = path.stat()
            except OSError:
                continue  # vanished or a dangling link: not a file we can use or report on
            if path.is_file():
                found.append((path.relative_to(root).as_posix(), stat.st_size, stat.st_mtime_ns))
    return found


def _has_dicom_magic(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            handle.seek(128)
            return handle.read(4) == b"DICM"
    except OSError:
        return False


def _decoder_problem(transfer_syntax: Any) -> str | None:
    """``None`` when pixels of this transfer syntax can be decoded here, else the reason."""
    if not transfer_syntax.is_compressed:
        return None
    from pydicom.pixels import get_decoder

    try:
        decoder = get_decoder(transfer_syntax)
    except (NotImplementedError, ValueError):
        return f"transfer syntax {transfer_syntax.name} ({transfer_syntax}) has no pixel decoder in pydicom"
    if decoder.is_available:
        return None
    needs = "; ".join(decoder.missing_dependencies) or "a decoder plugin"
    return f"{transfer_syntax.name} ({transfer_syntax}) needs a decoder: {needs}"


def read_header(root: Path, rel: str) -> dict[str, Any]:
    """Read one file's header; return a slice record (``"category": "ok"``) or a skip record."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    path = root / rel
    magic = _has_dicom_magic(path)
    try:
        with warnings.catch_warnings(record=True) as caught, open(path, "rb") as handle:
            warnings.simplefilter("always")
            ds = pydicom.dcmread(handle, stop_before_pixels=True, force=not magic and path.suffix.lower() == ".dcm")
            pixel_offset = handle.tell()
        size = path.stat().st_size
    except InvalidDicomError:
        return make_skip(rel, "not-dicom", "no DICOM preamble")
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types on damaged files
        return make_skip(rel, "unreadable", f"cannot read header ({type(exc).__name__}: {str(exc)[:80]})")
    meta = getattr(ds, "file_meta", None)
    sop_class = str(ds.get("SOPClassUID", "") or (meta.get("MediaStorageSOPClassUID", "") if meta else ""))
    if sop_class == MEDIA_STORAGE_DIRECTORY:
        return make_skip(rel, "not-image", "DICOMDIR (media storage directory)")
    if "SOPClassUID" not in ds and "Modality" not in ds and "SeriesInstanceUID" not in ds:
        if not magic:
            return make_skip(rel, "not-dicom", "forced read found no DICOM image tags")
        detail = f": {str(caught[0].message).split(' in file ')[0][:80]}" if caught else ""
        return make_skip(rel, "unreadable", f"damaged header, no image tags could be read{detail}")

    modality = str(ds.get("Modality", ""))
    if modality and modality != "CT":
        return make_skip(rel, "not-ct", f"modality {modality}")
    if sop_class == ENHANCED_CT_IMAGE_STORAGE:
        return make_skip(rel, "not-image", "Enhanced CT (multi-frame) is not supported; export classic single-frame CT")
    if sop_class and sop_class != CT_IMAGE_STORAGE:
        from pydicom.uid import UID

        return make_skip(rel, "not-image", f"SOP class {UID(sop_class).name}")
    if not modality:
        return make_skip(rel, "missing-tags", "missing Modality (0008,0060)")
    image_type = [str(v).upper() for v in (ds.get("ImageType") or [])]
    if "LOCALIZER" in image_type:
        return make_skip(rel, "localizer", "ImageType " + "\\".join(image_type))
    missing = [tag for tag in REQUIRED_TAGS if ds.get(tag) in (None, "")]
    if missing:
        return make_skip(rel, "missing-tags", "missing " + ", ".join(missing))

    try:
        rows, cols = int(ds.Rows), int(ds.Columns)
        iop = [float(v) for v in ds.ImageOrientationPatient]
        ipp = [float(v) for v in ds.ImagePositionPatient]
        spacing = [float(v) for v in ds.PixelSpacing]
        bits = int(ds.BitsAllocated)
        slope, intercept = float(ds.RescaleSlope), float(ds.RescaleIntercept)
        samples = int(ds.get("SamplesPerPixel", 1) or 1)
        frames = int(ds.get("NumberOfFrames", 1) or 1)
    except (TypeError, ValueError) as exc:
        return make_skip(rel, "missing-tags", f"malformed geometry or rescale tags ({exc})")
    if len(iop) != 6 or len(ipp) != 3 or len(spacing) != 2 or min(spacing) <= 0 or rows < 2 or cols < 2:
        return make_skip(rel, "missing-tags", "malformed ImageOrientationPatient, ImagePositionPatient or PixelSpacing")
    if samples != 1 or frames != 1:
        return make_skip(rel, "not-image", f"{samples} samples per pixel, {frames} frames (expected 1 and 1)")
    normal_z = iop[0] * iop[4] - iop[1] * iop[3]  # z component of row x column cosines
    if abs(normal_z) < AXIAL_MIN_COSINE:
        return make_skip(rel, "not-axial", f"orientation {['%.2f' % v for v in iop]} is not axial")

    transfer_syntax = meta.get("TransferSyntaxUID") if meta else None
    if transfer_syntax is None:
        from pydicom.uid import ImplicitVRLittleEndian

        transfer_syntax = ImplicitVRLittleEndian
    problem = _decoder_problem(transfer_syntax)
    if problem:
        return make_skip(rel, "no-decoder", problem)
    remaining = size - pixel_offset
    if remaining <= 0:
        return make_skip(rel, "not-image", "no pixel data")
    if not transfer_syntax.is_compressed:
        needed = rows * cols * (bits // 8)
        if remaining < needed + 8:
            return make_skip(rel, "unreadable", f"truncated: {remaining} bytes of pixel data left, {needed} needed")

    study = str(ds.get("StudyInstanceUID", "") or "")
    patient = str(ds.get("PatientID", "") or "") or rel.split("/", 1)[0]
    return {
        "file": rel,
        "category": "ok",
        "series": str(ds.SeriesInstanceUID),
        "study": study,
        "patient": patient,
        "instance": int(ds.get("InstanceNumber", 0) or 0),
        "ipp": ipp,
        "iop": iop,
        "spacing": spacing,
        "shape": [rows, cols],
        "slope": slope,
        "intercept": intercept,
    }


def read_headers(root: str, rels: list[str]) -> list[dict[str, Any]]:
    """Worker entry point: read a chunk of headers (``root`` as str so it pickles cheaply)."""
    base = Path(root)
    return [read_header(base, rel) for rel in rels]
