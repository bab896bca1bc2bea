"""Skipped-input bookkeeping: every rejected file or series is counted, named and summarised."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

# Reason categories, in the order the summary lists them.
CATEGORIES = {
    "unreadable": "unreadable or truncated",
    "no-decoder": "compressed with no decoder installed",
    "not-image": "not an image (DICOMDIR, structured report, ...)",
    "not-ct": "not CT",
    "localizer": "localizer/scout",
    "not-axial": "not axial",
    "missing-tags": "missing required tags",
    "inconsistent": "inconsistent with the rest of their series",
    "duplicate": "duplicate slice positions",
    "gap": "outside the longest gap-free run (3D)",
    "short-series": "in series too short for a volume (see min_slices)",
    "not-dicom": "not DICOM (ignored)",
}
SHOWN_PER_CATEGORY = 3


def make_skip(path: str, category: str, reason: str) -> dict[str, str]:
    """One skip record as stored in the manifest."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown skip category {category!r}")
    return {"file": path, "category": category, "reason": reason}


def count_by_category(skips: Iterable[dict[str, str]]) -> dict[str, int]:
    """``{category: count}`` in summary order."""
    counts: dict[str, int] = defaultdict(int)
    for skip in skips:
        counts[skip["category"]] += 1
    return {key: counts[key] for key in CATEGORIES if counts.get(key)}


def summary_lines(skips: list[dict[str, str]], total_files: int, manifest: str | None = None) -> list[str]:
    """Human-readable warning lines: one header line, then one line per category with examples."""
    if not skips:
        return []
    rejected = [s for s in skips if s["category"] != "not-dicom"]
    ignored = len(skips) - len(rejected)
    head = f"pancreas: skipped {len(rejected)} of {total_files} files"
    if ignored:
        head += f" and ignored {ignored} non-DICOM file{'s' if ignored != 1 else ''}"
    lines = [head + (f" (full list in {manifest})" if manifest else "") + ":"]
    grouped: dict[str, list[dict[str, str]]] = defaultdict(list)
    for skip in skips:
        grouped[skip["category"]].append(skip)
    for category in CATEGORIES:
        items = grouped.get(category)
        if not items:
            continue
        shown = "; ".join(f"{s['file']}: {s['reason']}" for s in items[:SHOWN_PER_CATEGORY])
        more = f"; and {len(items) - SHOWN_PER_CATEGORY} more" if len(items) > SHOWN_PER_CATEGORY else ""
        lines.append(f"  {len(items)} {CATEGORIES[category]}: {shown}{more}")
    return lines


def found_description(skips: list[dict[str, str]], total_files: int) -> str:
    """``"12 files: 5 not DICOM (ignored), 4 localizer/scout"``, for the nothing-usable error."""
    counts = count_by_category(skips)
    parts = [f"{n} {CATEGORIES[c]}" for c, n in counts.items()]
    return f"{total_files} files" + (": " + ", ".join(parts) if parts else "")
