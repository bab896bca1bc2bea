"""Group slice records into series, check them, and order slices along the slice normal.

Ordering (REFERENCE §5.3): with row and column direction cosines ``r, c`` from
ImageOrientationPatient, the slice normal is ``n = r x c`` and each slice's position along it is
``s_i = n . IPP_i``. Slices are sorted by ``s`` (never by file name or InstanceNumber, which only
breaks ties), and the order is flipped when ``n_z < 0`` so that index 0 is always the most
inferior slice. Spacing is ``median(diff(s))``; a step that differs from it by more than
``tolerance * median`` is a gap and is reported. In 3D a gap would tear the volume, so only the
longest gap-free run is kept (the rest is reported); 2D keeps every slice.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genzoo_datasets.pancreas.report import make_skip

DUPLICATE_MM = 1e-3  # positions closer than this along the normal are the same slice


@dataclass
class Series:
    """One usable CT series, its slices in anatomical (inferior to superior) order."""

    uid: str
    patient: str
    files: list[str]
    spacing: tuple[float, float, float]  # (slice, row, column) spacing in mm, after transposing; slice 0 if 1 slice
    shape: tuple[int, int]  # (rows, columns) after transposing
    flip_rows: bool
    flip_cols: bool
    transpose: bool
    slopes: list[float]
    intercepts: list[float]
    gaps: list[str] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        """JSON-ready summary for the manifest."""
        return {
            "uid": self.uid,
            "patient": self.patient,
            "slices": len(self.files),
            "spacing_mm": [round(v, 6) for v in self.spacing],
            "shape": list(self.shape),
            "gaps": self.gaps,
            "files": self.files,
        }


def _majority(values: list[Any]) -> Any:
    return Counter(values).most_common(1)[0][0]


def _geometry_key(record: dict[str, Any]) -> tuple:
    return (
        tuple(record["shape"]),
        tuple(round(v, 3) for v in record["iop"]),
        tuple(round(v, 4) for v in record["spacing"]),
        record["patient"],
    )


def _describe_difference(record: dict[str, Any], expected: tuple) -> str:
    got = _geometry_key(record)
    names = ("shape", "orientation", "pixel spacing", "patient")
    diffs = [f"{n} {g} vs {e}" for n, g, e in zip(names, got, expected) if g != e]
    return "differs from its series: " + "; ".join(diffs)


def group_series(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """``{SeriesInstanceUID: [slice records]}`` in first-seen order."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        groups[record["series"]].append(record)
    return dict(groups)


def find_runs(positions: np.ndarray, tolerance: float) -> tuple[float, list[tuple[int, int]]]:
    """Median spacing and the gap-free runs ``[(start, stop)]`` of sorted ``positions``."""
    if len(positions) < 2:
        return 0.0, [(0, len(positions))]
    steps = np.diff(positions)
    median = float(np.median(steps))
    breaks = np.flatnonzero(np.abs(steps - median) > tolerance * median) + 1
    edges = [0, *breaks.tolist(), len(positions)]
    return median, [(a, b) for a, b in zip(edges[:-1], edges[1:])]


def build_series(
    uid: str, records: list[dict[str, Any]], *, tolerance: float, mode: str, min_slices: int
) -> tuple[Series | None, list[dict[str, str]]]:
    """Check and order one series; return it (or ``None`` if unusable) and the skips it caused."""
    skips: list[dict[str, str]] = []
    expected = _majority([_geometry_key(r) for r in records])
    kept = []
    for record in records:
        if _geometry_key(record) == expected:
            kept.append(record)
        else:
            skips.append(make_skip(record["file"], "inconsistent", _describe_difference(record, expected)))
    iop = np.asarray(kept[0]["iop"], dtype=np.float64)
    row_dir, col_dir = iop[:3], iop[3:]
    normal = np.cross(row_dir, col_dir)
    direction = 1.0 if normal[2] >= 0 else -1.0
    positions = np.array([direction * float(np.dot(normal, r["ipp"])) for r in kept])
    order = np.lexsort((np.array([r["instance"] for r in kept]), positions))
    kept = [kept[i] for i in order]
    positions = positions[order]

    unique = [0]
    for i in range(1, len(kept)):
        if abs(positions[i] - positions[unique[-1]]) < DUPLICATE_MM:
            other = kept[unique[-1]]["file"]
            skips.append(make_skip(kept[i]["file"], "duplicate", f"same position as {other} ({positions[i]:.3f} mm)"))
        else:
            unique.append(i)
    kept = [kept[i] for i in unique]
    positions = positions[unique]

    median, runs = find_runs(positions, tolerance)
    gaps = [
        f"step of {positions[b] - positions[b - 1]:.3f} mm at {positions[b - 1]:.3f} mm (median {median:.3f} mm)"
        for _, b in runs[:-1]
    ]
    if mode == "3d":
        start, stop = max(runs, key=lambda run: (run[1] - run[0], -run[0]))
        for i, record in enumerate(kept):
            if not start <= i < stop:
                skips.append(make_skip(record["file"], "gap", f"series {uid} has a gap; kept slices {start}-{stop - 1}"))
        kept = kept[start:stop]
        if len(kept) < min_slices:
            skips.extend(
                make_skip(r["file"], "short-series", f"series {uid} has {len(kept)} usable slices, fewer than min_slices={min_slices}")
                for r in kept
            )
            return None, skips
    if not kept:
        return None, skips

    row_spacing, col_spacing = kept[0]["spacing"]
    rows, cols = kept[0]["shape"]
    transpose = abs(row_dir[1]) > abs(row_dir[0])  # rows run along y: swap axes to the usual axial layout
    x_dir, y_dir = (col_dir, row_dir) if transpose else (row_dir, col_dir)
    if transpose:
        row_spacing, col_spacing, rows, cols = col_spacing, row_spacing, cols, rows
    series = Series(
        uid=uid,
        patient=kept[0]["patient"],
        files=[r["file"] for r in kept],
        spacing=(abs(median), row_spacing, col_spacing),
        shape=(rows, cols),
        flip_rows=bool(y_dir[1] < 0),
        flip_cols=bool(x_dir[0] < 0),
        transpose=bool(transpose),
        slopes=[r["slope"] for r in kept],
        intercepts=[r["intercept"] for r in kept],
        gaps=gaps,
    )
    return series, skips
