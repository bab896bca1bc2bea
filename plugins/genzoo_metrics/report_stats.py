"""The statistics of ``genzoo report``: intervals over training seeds and the verdict on a claim.

A cell of a report table is one model under one setting, trained with ``S`` seeds. Its figure is
the mean of the ``S`` per-seed values with a two-sided 95 % Student-t confidence interval:

    mean ± t_{0.975, S-1} * s / sqrt(S),     s = sample standard deviation (ddof = 1)

A claim "A is better than B" is decided on the difference of the two cells' means with Welch's
interval (unequal variances, Welch-Satterthwaite degrees of freedom):

    d = mean_A - mean_B,   se = sqrt(s_A^2 / S_A + s_B^2 / S_B),
    nu = se^4 / ((s_A^2/S_A)^2 / (S_A-1) + (s_B^2/S_B)^2 / (S_B-1)),   d ± t_{0.975, nu} * se

"held" when the whole interval lies on the claimed side of 0, "not held" when it lies on the other
side, "inconclusive" when it contains 0, and "not testable here" when either cell has fewer than two
finite values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

CONFIDENCE = 0.95


def t_quantile(df: float, confidence: float = CONFIDENCE) -> float:
    """The two-sided Student-t critical value ``t_{(1+confidence)/2, df}``."""
    from scipy.stats import t

    return float(t.ppf(0.5 + confidence / 2, df))


@dataclass(frozen=True)
class Interval:
    """Mean and 95 % t-interval half-width of ``n`` finite values (``half`` is NaN for n < 2)."""

    mean: float
    half: float
    n: int
    sd: float

    @property
    def low(self) -> float:
        return self.mean - self.half

    @property
    def high(self) -> float:
        return self.mean + self.half

    def to_dict(self) -> dict[str, float | int | None]:
        def clean(v: float) -> float | None:
            return v if math.isfinite(v) else None

        return {"mean": clean(self.mean), "ci95": clean(self.half), "n": self.n, "sd": clean(self.sd)}


def interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """Mean ± t-interval over the finite ``values`` (non-finite ones, failed runs, are dropped)."""
    finite = [float(v) for v in values if v is not None and math.isfinite(v)]
    n = len(finite)
    if n == 0:
        return Interval(math.nan, math.nan, 0, math.nan)
    mean = sum(finite) / n
    if n < 2:
        return Interval(mean, math.nan, 1, math.nan)
    sd = math.sqrt(sum((v - mean) ** 2 for v in finite) / (n - 1))
    return Interval(mean, t_quantile(n - 1, confidence) * sd / math.sqrt(n), n, sd)


def welch_difference(a: Sequence[float], b: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """``mean(a) - mean(b)`` with Welch's t-interval (``n`` is the smaller sample size)."""
    ia, ib = interval(a, confidence), interval(b, confidence)
    if ia.n < 2 or ib.n < 2:
        return Interval(ia.mean - ib.mean, math.nan, min(ia.n, ib.n), math.nan)
    va, vb = ia.sd**2 / ia.n, ib.sd**2 / ib.n
    se = math.sqrt(va + vb)
    if se == 0:
        return Interval(ia.mean - ib.mean, 0.0, min(ia.n, ib.n), 0.0)
    df = se**4 / (va**2 / (ia.n - 1) + vb**2 / (ib.n - 1))
    return Interval(ia.mean - ib.mean, t_quantile(df, confidence) * se, min(ia.n, ib.n), se)


def verdict(difference: Interval, better: str) -> str:
    """The verdict on "A beats B" from ``mean_A - mean_B``; ``better`` is ``"higher"`` or ``"lower"``."""
    if better not in ("higher", "lower"):
        raise ValueError(f"better must be 'higher' or 'lower', got {better!r}")
    if difference.n < 2 or not math.isfinite(difference.half):
        return "not testable here"
    sign = 1.0 if better == "higher" else -1.0
    low, high = sorted((sign * difference.low, sign * difference.high))
    if low > 0:
        return "held"
    if high < 0:
        return "not held"
    return "inconclusive"


def format_interval(cell: Interval, digits: int = 3, scale: float = 1.0) -> str:
    """``"12.3 ± 0.4"`` (mean ± 95 % CI half-width), ``"12.3"`` for one seed, ``"n/a"`` for none."""
    if cell.n == 0 or not math.isfinite(cell.mean):
        return "n/a"
    text = _fmt(cell.mean * scale, digits)
    return f"{text} ± {_fmt(cell.half * scale, 2)}" if math.isfinite(cell.half) else text


def _fmt(value: float, digits: int) -> str:
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.2e}"
    return f"{value:.{digits}g}"
