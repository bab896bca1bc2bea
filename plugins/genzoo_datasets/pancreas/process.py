"""Worker side of preparation: decode one series' pixels and write its prepared samples.

Runs in worker processes (numpy and pydicom only). Memory is bounded by one series at output
resolution plus one full-resolution slice, however large the collection: every slice is
windowed and resized in-plane as soon as it is decoded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from genzoo_datasets.cache import save_npy_atomic
from genzoo_datasets.pancreas import transform
from genzoo_datasets.pancreas.report import make_skip


def decode_slice(path: Path) -> np.ndarray:
    """Stored pixel values of one single-frame DICOM file."""
    import pydicom

    ds = pydicom.dcmread(path)
    pixels = ds.pixel_array
    if pixels.ndim != 2:
        raise ValueError(f"expected one 2D frame, got shape {pixels.shape}")
    return pixels


def process_series(job: dict[str, Any]) -> dict[str, Any]:
    """Prepare one series (see :func:`genzoo_datasets.pancreas.prepare.series_job`).

    Returns ``{"uid", "count", "skips", "error"}``; the samples go to ``job["out"]`` as float16
    ``(n, 1, S, S)`` in 2D or ``(1, 1, S, S, S)`` in 3D.
    """
    root = Path(job["root"])
    params = job["params"]
    size, mode = params["size"], params["mode"]
    width, level = params["window_width"], params["window_level"]
    slice_mm, row_mm, col_mm = job["spacing"]
    rows, cols = job["shape"]
    extent = None
    if params["preserve_aspect"]:
        extent = max(rows * row_mm, cols * col_mm)
        if mode == "3d":
            extent = max(extent, len(job["files"]) * slice_mm)
    planes: list[np.ndarray] = []
    skips: list[dict[str, str]] = []
    for rel, slope, intercept in zip(job["files"], job["slopes"], job["intercepts"]):
        try:
            stored = decode_slice(root / rel)
        except Exception as exc:  # noqa: BLE001 - any decode failure skips the slice, reported
            skips.append(make_skip(rel, "unreadable", f"pixel data cannot be decoded ({type(exc).__name__}: {str(exc)[:80]})"))
            if mode == "3d":
                return {"uid": job["uid"], "count": 0, "skips": skips, "error": f"slice {rel} is unreadable"}
            continue
        stored = transform.orient(stored, job["transpose"], job["flip_rows"], job["flip_cols"])
        if stored.shape != (rows, cols):
            skips.append(make_skip(rel, "inconsistent", f"pixel data is {stored.shape}, header says {(rows, cols)}"))
            if mode == "3d":
                return {"uid": job["uid"], "count": 0, "skips": skips, "error": f"slice {rel} has the wrong shape"}
            continue
        hu = transform.to_hu(stored, slope, intercept)
        if mode == "2d" and params["body_only"] and transform.body_fraction(hu) < params["min_body_fraction"]:
            continue
        windowed = transform.window(hu, width, level)
        planes.append(transform.square_plane(windowed, row_mm, col_mm, size, extent))
    if not planes:
        samples = np.zeros((0, 1, size, size), dtype=np.float16)
    elif mode == "2d":
        samples = np.stack(planes)[:, None]
    else:
        stack = np.stack(planes)
        if extent is not None:
            stack = transform.pad_centre(stack, 0, transform.padded_length(len(stack), slice_mm, extent), -1.0)
        samples = transform.resize_axis0(stack, size)[None, None]
    samples = np.clip(samples, -1.0, 1.0).astype(np.float16)
    save_npy_atomic(Path(job["out"]), samples)
    return {"uid": job["uid"], "count": int(len(samples)), "skips": skips, "error": None}
