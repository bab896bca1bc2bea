"""The paper's claims, each decided from the report's cells with the numbers and intervals that decide it.

Every verdict comes from :func:`genzoo_metrics.report_stats.verdict` on Welch intervals of
per-seed values (see that module): "held", "not held", "inconclusive" (the interval contains no
difference) or "not testable here" (a cell is missing or has fewer than two seeds). A claim made
against several rivals is held only if it holds against each, and not held if it fails against any.
"""

from __future__ import annotations

import math
from typing import Any

from genzoo_metrics.report_stats import Interval, format_interval, interval, verdict, welch_difference

SHARPNESS = "sharpness"
RECALL = "precision-recall.recall"
FID = "fid"
MMD = "mmd"
LOG_LIKELIHOOD = "log-likelihood"
PAPER_NATS = -82.2  # Sagar's Table 6, GVAE on MNIST
PAPER_MODEL = "gvae"  # the claims are Sagar's, about GVAE


def _values(cell: dict[str, Any] | None, key: str) -> list[float]:
    if not cell:
        return []
    return [row.get(key, math.nan) for row in cell.get("per_seed", [])]


def _compare(a_name: str, a: dict | None, b_name: str, b: dict | None, key: str, better: str) -> tuple[str, str]:
    diff = welch_difference(_values(a, key), _values(b, key))
    result = verdict(diff, better)
    text = (f"{a_name} {format_interval(interval(_values(a, key)))} vs {b_name} "
            f"{format_interval(interval(_values(b, key)))} (difference {format_interval(diff)})")  # fmt: skip
    return result, text


def _combine(verdicts: list[str]) -> str:
    if not verdicts or "not testable here" in verdicts:
        return "not testable here"
    if "not held" in verdicts:
        return "not held"
    return "held" if all(v == "held" for v in verdicts) else "inconclusive"


def _against_all(label: str, cell: dict | None, rivals: dict[str, dict | None], key: str, better: str) -> tuple[str, str]:
    pairs = [_compare(label, cell, name, rival, key, better) for name, rival in rivals.items()]
    return _combine([v for v, _ in pairs]), "; ".join(t for _, t in pairs) or "no rival cells"


def judge_claims(results: dict[str, Any], settings: Any) -> list[dict[str, str]]:
    """The verdict on each of the paper's claims, with the evidence as text."""
    table3, table5 = results.get("table3", {}), results.get("table5", {})
    table4 = results.get("table4", {}) if settings.sweep_model == PAPER_MODEL else {}
    model = PAPER_MODEL

    def tuned(name: str) -> dict | None:
        return table3.get(f"{name} (tuned)")

    claims: list[dict[str, str]] = []

    def add(claim: str, outcome: tuple[str, str], key: str) -> None:
        claims.append({"claim": claim, "verdict": outcome[0], "evidence": outcome[1], "metric": key})

    add(f"{model} is sharper than vae", _compare(model, tuned(model), "vae", tuned("vae"), SHARPNESS, "higher"), SHARPNESS)
    add(f"{model} collapses fewer modes than wgan-gp (recall)",
        _compare(model, tuned(model), "wgan-gp", tuned("wgan-gp"), RECALL, "higher"), RECALL)  # fmt: skip
    if "1000" in table4:
        rivals = {f"z={size}": cell for size, cell in table4.items() if size != "1000"}
        add("latent size 1000 is best (FID)", _against_all("z=1000", table4["1000"], rivals, FID, "lower"), FID)
    else:
        why = f"latent size 1000 of {PAPER_MODEL} was not in the sweep"
        add("latent size 1000 is best (FID)", ("not testable here", why), FID)
    others = {name: tuned(name) for name in settings.models if name != model}
    add(f"{model} is best on MMD", _against_all(model, tuned(model), others, MMD, "lower"), MMD)
    add(f"{model} reaches Table 6's {PAPER_NATS} nats", _nats_claim(table5.get(model), settings), LOG_LIKELIHOOD)
    return claims


def _nats_claim(cell: dict | None, settings: Any) -> tuple[str, str]:
    values = _values(cell, LOG_LIKELIHOOD)
    cell_interval = interval(values)
    text = f"IWAE log-likelihood {format_interval(cell_interval)} nats (k={settings.iwae_k}, dynamically binarised)"
    if settings.test_dataset != "mnist":
        return "not testable here", text + "; the paper's figure is on the MNIST test split, which was not given"
    if cell_interval.n < 2:
        return "not testable here", text + "; fewer than two seeds"
    constant = Interval(cell_interval.mean - PAPER_NATS, cell_interval.half, cell_interval.n, cell_interval.sd)
    return verdict(constant, "higher"), text + f" against the paper's {PAPER_NATS}"
