"""The report's statistics against scipy: t-intervals over seeds, Welch differences, verdicts."""

from __future__ import annotations

import math

import pytest
from scipy import stats

from genzoo_metrics.report_stats import format_interval, interval, verdict, welch_difference


def test_interval_matches_scipy_t_interval() -> None:
    values = [4.1, 5.3, 4.8, 6.0]
    cell = interval(values)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=stats.tmean(values), scale=stats.sem(values))
    assert cell.mean == pytest.approx(sum(values) / 4)
    assert cell.low == pytest.approx(low) and cell.high == pytest.approx(high)
    assert cell.n == 4 and cell.sd == pytest.approx(stats.tstd(values))


def test_interval_drops_failed_runs_and_has_no_width_for_one_seed() -> None:
    assert interval([2.0, math.nan, None, 4.0]).n == 2
    one = interval([3.0])
    assert one.mean == 3.0 and math.isnan(one.half) and format_interval(one) == "3"
    assert interval([]).n == 0 and format_interval(interval([])) == "n/a"


def test_welch_difference_matches_scipy() -> None:
    a, b = [10.2, 11.1, 9.7, 10.8], [8.1, 9.9, 7.2]
    diff = welch_difference(a, b)
    ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert diff.low == pytest.approx(ci.low) and diff.high == pytest.approx(ci.high)


@pytest.mark.parametrize(
    ("a", "b", "better", "expected"),
    [
        ([10.0, 10.5, 11.0], [5.0, 5.5, 6.0], "higher", "held"),
        ([10.0, 10.5, 11.0], [5.0, 5.5, 6.0], "lower", "not held"),
        ([5.0, 9.0, 7.0], [6.0, 8.0, 7.5], "higher", "inconclusive"),
        ([5.0], [6.0, 7.0], "higher", "not testable here"),
    ],
)
def test_verdicts(a, b, better, expected) -> None:
    assert verdict(welch_difference(a, b), better) == expected


def test_identical_constant_cells_are_inconclusive_not_held() -> None:
    assert verdict(welch_difference([1.0, 1.0], [1.0, 1.0]), "higher") == "inconclusive"
    with pytest.raises(ValueError):
        verdict(welch_difference([1.0, 2.0], [1.0, 2.0]), "bigger")
