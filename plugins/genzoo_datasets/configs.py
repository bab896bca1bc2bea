"""Config dataclasses of the first-party data sets.

Light on purpose: this module imports only dataclasses and :mod:`genzoo.config`, so the plugin
entry module can name these classes without importing torch, numpy or pydicom.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from genzoo.config import doc


@dataclass(frozen=True)
class Mnist5kConfig:
    """The 5,000 MNIST training digits shipped in genzoo's package data."""

    test_every: int = doc(
        "hold out every n-th digit of each class (ordered by class, then file position) as the test split",
        10,
    )

    def __post_init__(self) -> None:
        if self.test_every < 2:
            raise ValueError("test_every must be at least 2 (10 holds out 500 of the 5,000 digits)")


@dataclass(frozen=True)
class IdxConfig:
    """MNIST or Fashion-MNIST read from the original IDX files."""

    download: bool = doc(
        "download the IDX files through torchvision when they are not in data_dir (needs network)", True
    )


@dataclass(frozen=True)
class PancreasConfig:
    """TCIA Pancreas-CT (or any axial CT collection) prepared from DICOM into a cache.

    Window: HU values are clipped to ``[level - width/2, level + width/2]`` and mapped linearly
    to [-1, 1] (REFERENCE §5.4); the abdomen soft-tissue default W400/L40 covers [-160, 240] HU.
    """

    mode: Literal["2d", "3d"] = doc("'2d': axial slices (1, S, S); '3d': whole volumes (1, S, S, S)", "2d")
    size: int = doc("output edge length in pixels/voxels: 64 or 128 in 2D, 32 or 64 in 3D", 64)
    window_width: float = doc("HU window width", 400.0)
    window_level: float = doc("HU window centre (level)", 40.0)
    body_only: bool = doc("2D only: keep slices whose body (HU > -500) covers at least min_body_fraction", False)
    min_body_fraction: float = doc("2D body_only threshold, fraction of the slice area", 0.15)
    preserve_aspect: bool = doc(
        "pad with air to a square (2D) or cube (3D) in millimetres before resizing, so anatomy keeps its proportions",
        True,
    )
    test_fraction: float = doc("fraction of patients (not slices) held out as the test split", 0.2)
    spacing_tolerance: float = doc(
        "relative tolerance of slice spacing: |diff - median| < tol * median, else a gap is reported", 0.01
    )
    min_slices: int = doc("3D only: series (or longest gap-free run) shorter than this are skipped", 8)
    workers: int = doc("worker processes for preparation (0: one per CPU core, at most 8)", 0)
    cache_dir: str = doc("where prepared caches go ('' : $GENZOO_CACHE_DIR/pancreas)", "")

    def __post_init__(self) -> None:
        if self.size < 8 or self.size > 512 or self.size & (self.size - 1):
            raise ValueError(f"size must be a power of two between 8 and 512 (64 or 128 in 2D, 32 or 64 in 3D), got {self.size}")
        if self.window_width <= 0:
            raise ValueError(f"window_width must be positive, got {self.window_width}")
        if not 0.0 <= self.test_fraction < 1.0:
            raise ValueError(f"test_fraction must be in [0, 1), got {self.test_fraction}")
        if not 0.0 <= self.min_body_fraction < 1.0:
            raise ValueError(f"min_body_fraction must be in [0, 1), got {self.min_body_fraction}")
        if self.spacing_tolerance <= 0:
            raise ValueError("spacing_tolerance must be positive")
        if self.min_slices < 2:
            raise ValueError("min_slices must be at least 2")
        if self.workers < 0:
            raise ValueError("workers must be 0 (automatic) or a positive count")

    def output_params(self) -> dict[str, object]:
        """The fields that change the prepared pixels (a change rebuilds the cache)."""
        return {
            "mode": self.mode,
            "size": self.size,
            "window_width": self.window_width,
            "window_level": self.window_level,
            "body_only": self.body_only,
            "min_body_fraction": self.min_body_fraction,
            "preserve_aspect": self.preserve_aspect,
            "test_fraction": self.test_fraction,
            "spacing_tolerance": self.spacing_tolerance,
            "min_slices": self.min_slices,
        }
