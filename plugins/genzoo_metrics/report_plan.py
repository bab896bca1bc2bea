"""What ``genzoo report`` trains: the runs of every table, derived from the settings alone.

Kept apart from the training and scoring so the protocol's arithmetic (seeds per cell, which runs
a table shares, which settings each row uses) is tested without training anything.

Rows of Table 3 (every model, ``seeds`` training seeds each):

- ``paper``: the model under its paper's settings (its ``paper`` preset; the defaults if it has none);
- ``tuned``: the defaults with the best learning rate of one shared sweep (``sweep_lrs``, applied
  to every player through ``train.lr``), chosen by FID on a validation split carved out of the
  training data (``train.holdout`` images; never the held-out evaluation split), then retrained on
  the whole training split.

Table 4 sweeps the latent size of ``sweep_model`` (tuned setting), the ablation table trains every
``ablation-*`` preset of ``sweep_model``, Table 5 scores the likelihood of the tuned runs of the
models with an encoder. Every run is identified by its folder name, so a table that needs a run
another table already trained reuses it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ABLATION_PREFIX = "ablation-"


@dataclass(frozen=True)
class RunSpec:
    """One training run: a model, its overrides (dotted keys as ``--set`` takes them) and a seed."""

    key: str
    model: str
    seed: int
    overrides: tuple[tuple[str, Any], ...] = ()
    preset: str | None = None
    holdout: int = 0

    def override_dict(self) -> dict[str, Any]:
        return dict(self.overrides)


def _slug(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return "".join(c if c.isalnum() or c in ".-" else "_" for c in text)


OWN_LR = 0.0  # the sweep's candidate that keeps every player's own lr (and so the model's ratios)


def lr_label(lr: float) -> str:
    return "own" if lr == OWN_LR else f"{lr:g}"


def run_key(model: str, setting: str, seed: int) -> str:
    """The folder name of a run: ``gvae-tuned-lr0.0005-s1``."""
    return f"{model}-{setting}-s{seed}"


def lr_setting(lr: float) -> str:
    return f"lr{lr:g}"


def sweep_runs(models: Iterable[str], lrs: Iterable[float], holdout: int, seed: int = 0) -> list[RunSpec]:
    """The shared learning-rate sweep: every model at its own lrs and at every shared lr of the grid,
    one seed, trained without the ``holdout`` validation images."""
    runs = []
    for m in models:
        runs.append(RunSpec(run_key(m, "val-own", seed), m, seed, (), holdout=holdout))
        runs += [RunSpec(run_key(m, f"val-{lr_setting(lr)}", seed), m, seed, (("train.lr", lr),), holdout=holdout)
                 for lr in lrs]  # fmt: skip
    return runs


def paper_runs(model: str, presets: Mapping[str, Any], seeds: Iterable[int]) -> list[RunSpec]:
    """Row (a): the model's ``paper`` preset, or its defaults when it declares none."""
    preset = "paper" if "paper" in presets else None
    setting = "paper" if preset else "default"
    return [RunSpec(run_key(model, setting, s), model, s, preset=preset) for s in seeds]


def tuned_runs(model: str, lr: float | None, seeds: Iterable[int], extra: Mapping[str, Any] | None = None) -> list[RunSpec]:
    """Row (b): the defaults at the sweep's best lr (``None``: the model's own lr), plus ``extra``."""
    overrides: dict[str, Any] = {} if lr is None else {"train.lr": lr}
    overrides.update(extra or {})
    setting = "tuned" if lr is None else f"tuned-{lr_setting(lr)}"
    for key, value in (extra or {}).items():
        setting += f"-{_slug(key)}{_slug(value)}"
    return [RunSpec(run_key(model, setting, s), model, s, tuple(overrides.items())) for s in seeds]


def ablation_runs(model: str, presets: Mapping[str, Any], lr: float | None, seeds: Iterable[int]) -> dict[str, list[RunSpec]]:
    """One row per ``ablation-*`` preset of ``model``, at the tuned lr."""
    rows: dict[str, list[RunSpec]] = {}
    base: tuple[tuple[str, Any], ...] = () if lr is None else (("train.lr", lr),)
    suffix = "" if lr is None else f"-{lr_setting(lr)}"
    for name in sorted(presets):
        if name.startswith(ABLATION_PREFIX):
            rows[name[len(ABLATION_PREFIX):]] = [
                RunSpec(run_key(model, f"{name}{suffix}", s), model, s, base, preset=name) for s in seeds
            ]
    return rows


def best_lr(validation_fid: Mapping[float, float]) -> float | None:
    """The lr with the lowest finite validation FID (``None`` when every sweep run failed)."""
    finite = {lr: v for lr, v in validation_fid.items() if v is not None and v == v and v != float("inf")}
    return min(finite, key=lambda lr: (finite[lr], lr)) if finite else None
