"""Contract checks for metric plugins: the result convention and the n/a rule of genzoo.evaluation."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from torch import Tensor

from genzoo.evaluation import EvalContext, MetricResult, evaluate
from genzoo.registry import get_registry
from genzoo.testing.batches import random_batch


class _NoCapabilities:
    """A stand-in model with no capabilities; its samples are given to the context directly."""

    capabilities: frozenset[str] = frozenset()


def check_metric_contract(
    name: str,
    config: Any = None,
    *,
    model: Any = None,
    real: Tensor | None = None,
    generated: Tensor | None = None,
    data_shape: Sequence[int] = (1, 28, 28),
    n: int = 32,
    dataset: str | None = None,
) -> MetricResult:
    """Metric ``name`` follows the result convention on a small evaluation; returns its result.

    Checked: the spec declares a direction (``True``, ``False`` or ``None``); a model lacking a
    capability the metric ``requires`` gets status ``n/a`` with a reason, never an error; and
    otherwise ``compute`` returns numbers including the headline, the key named after the metric,
    which is finite, and the same context seed gives the same values again. ``real`` and
    ``generated`` default to ``n`` random images of ``data_shape``; a metric that needs the model
    (an encoder, a likelihood) is computed only when ``model`` is given.
    """
    registry = get_registry()
    spec = registry.get("metric", name)
    assert spec.higher_is_better in (True, False, None), f"{name}: higher_is_better must be True, False or None"
    real = random_batch(data_shape, n, seed=1) if real is None else real
    generated = random_batch(tuple(real.shape[1:]), len(real), seed=2) if generated is None else generated
    configs = {name: config} if config is not None else {}

    def run(with_model: Any) -> MetricResult:
        context = EvalContext(with_model, real, generated=generated, seed=0, dataset=dataset)
        (result,) = evaluate(context, [name], configs, registry, on_error="raise")
        return result

    if spec.requires:
        lacking = run(_NoCapabilities())
        assert lacking.status == "n/a" and lacking.reason, (
            f"{name}: a model without {', '.join(spec.requires)} must give n/a, got {lacking.status}"
        )
        if model is None:
            return lacking
    result = run(model if model is not None else _NoCapabilities())
    assert result.status == "ok", f"{name}: status {result.status} ({result.reason})"
    assert spec.name in result.values, f"{name}: no headline value under its own name in {sorted(result.values)}"
    assert math.isfinite(result.value), f"{name}: the headline value is {result.value}"
    again = run(model if model is not None else _NoCapabilities())
    same = all(
        (math.isnan(a) and math.isnan(b)) or a == b for a, b in zip(result.values.values(), again.values.values())
    )
    assert result.values.keys() == again.values.keys() and same, (
        f"{name}: the same seed gave {result.values} and then {again.values}"
    )
    return result
