"""Pixel maths: HU conversion, windowing and resampling (numpy only, so workers stay light).

- HU (REFERENCE §5.3): ``HU = stored * RescaleSlope + RescaleIntercept``, then clipped to
  [-1024, 3071]. The clip turns the -2048 outside-the-field-of-view padding of some scanners
  into air instead of letting it darken resampled edges.
- Window (REFERENCE §5.4): ``lo = L - W/2``, ``hi = L + W/2``, ``x = 2 (clip(HU, lo, hi) - lo) / W - 1``
  in [-1, 1]. Windowing comes before resampling so a downsampled pixel is the average of what a
  radiologist sees in that window (averaging raw HU first lets a bone pixel saturate a whole
  output pixel).
- Resampling is separable and exact: per axis a weight matrix maps ``n_in`` samples to
  ``n_out``. Shrinking uses area weights (each output pixel averages the input interval it
  covers, so there is no aliasing); enlarging uses linear interpolation at pixel centres
  (``align_corners=False`` in PyTorch terms). Every row of a weight matrix sums to 1.
- Aspect: with ``preserve_aspect`` the image (or volume) is padded with air, centred, to a
  square (cube) in millimetres before resizing, so anatomy keeps its proportions.
"""

from __future__ import annotations

import math

import numpy as np

HU_MIN, HU_MAX = -1024.0, 3071.0
BODY_HU = -500.0  # pixels above this are inside the body (air and lung are below)


def to_hu(stored: np.ndarray, slope: float, intercept: float) -> np.ndarray:
    """Stored values to Hounsfield units (float32), padding clipped to air."""
    hu = stored.astype(np.float32) * np.float32(slope) + np.float32(intercept)
    return np.clip(hu, HU_MIN, HU_MAX, out=hu)


def window(hu: np.ndarray, width: float, level: float) -> np.ndarray:
    """Clip HU to ``[level - width/2, level + width/2]`` and map linearly to [-1, 1]."""
    low = level - width / 2.0
    out = np.clip(hu, low, low + width).astype(np.float32)
    out -= np.float32(low)
    out *= np.float32(2.0 / width)
    out -= np.float32(1.0)
    return out


def resample_matrix(n_in: int, n_out: int) -> np.ndarray:
    """``(n_out, n_in)`` weights: area averaging when shrinking, linear when enlarging."""
    weights = np.zeros((n_out, n_in), dtype=np.float64)
    if n_out <= n_in:
        scale = n_in / n_out
        for j in range(n_out):
            start, stop = j * scale, (j + 1) * scale
            for i in range(int(math.floor(start)), min(n_in, int(math.ceil(stop)))):
                weights[j, i] = min(stop, i + 1) - max(start, i)
            weights[j] /= scale
    else:
        centres = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
        centres = np.clip(centres, 0, n_in - 1)
        left = np.floor(centres).astype(int)
        right = np.minimum(left + 1, n_in - 1)
        frac = centres - left
        weights[np.arange(n_out), left] += 1 - frac
        weights[np.arange(n_out), right] += frac
    return weights.astype(np.float32)


def padded_length(n: int, spacing: float, extent_mm: float) -> int:
    """Samples needed to cover ``extent_mm`` at ``spacing`` (never fewer than ``n``)."""
    return max(n, int(round(extent_mm / spacing)))


def pad_centre(array: np.ndarray, axis: int, length: int, value: float) -> np.ndarray:
    """Pad ``array`` along ``axis`` to ``length`` with ``value``, centred."""
    extra = length - array.shape[axis]
    if extra <= 0:
        return array
    widths = [(0, 0)] * array.ndim
    widths[axis] = (extra // 2, extra - extra // 2)
    return np.pad(array, widths, mode="constant", constant_values=value)


def resize_plane(image: np.ndarray, out_rows: int, out_cols: int) -> np.ndarray:
    """Resize a 2D array with the separable weights of :func:`resample_matrix`."""
    rows = resample_matrix(image.shape[0], out_rows)
    cols = resample_matrix(image.shape[1], out_cols)
    return rows @ image.astype(np.float32) @ cols.T


def resize_axis0(stack: np.ndarray, out_len: int) -> np.ndarray:
    """Resize an ``(n, ...)`` stack along its first axis."""
    weights = resample_matrix(stack.shape[0], out_len)
    return np.tensordot(weights, stack, axes=(1, 0)).astype(np.float32)


def orient(pixels: np.ndarray, transpose: bool, flip_rows: bool, flip_cols: bool) -> np.ndarray:
    """Put a slice in the usual axial display layout (patient's left on the right, anterior up)."""
    if transpose:
        pixels = pixels.T
    if flip_rows:
        pixels = pixels[::-1, :]
    if flip_cols:
        pixels = pixels[:, ::-1]
    return pixels


def square_plane(windowed: np.ndarray, row_mm: float, col_mm: float, size: int, extent_mm: float | None) -> np.ndarray:
    """Pad (when ``extent_mm`` is given) to that many mm on both axes, then resize to ``size``²."""
    if extent_mm is not None:
        windowed = pad_centre(windowed, 0, padded_length(windowed.shape[0], row_mm, extent_mm), -1.0)
        windowed = pad_centre(windowed, 1, padded_length(windowed.shape[1], col_mm, extent_mm), -1.0)
    return resize_plane(windowed, size, size)


def body_fraction(hu: np.ndarray) -> float:
    """Fraction of a slice's pixels inside the body (HU above -500)."""
    return float(np.mean(hu > BODY_HU))
