"""The evaluation runner: score one model with any installed metrics on shared samples.

An :class:`EvalContext` holds the model, the real *held-out* images (the data set's
``eval_split``, never the training images), an optional reference sample from the training split
(for real-vs-real floors), the generated samples (drawn once, lazily, with a fixed seed, and shared
by every metric), the device and a seed from which every metric derives its own named random
stream, so every model is scored on the same pairs and subsets. Metrics are plugins: a
metric's factory returns an object with ``compute(context) -> dict[str, float]``. The headline
value is the key named after the metric (``{"kid": ..., "kid.std": ...}``), wherever it comes in
the dict; other keys (``name.std``, ``name.real``, ...) qualify it. A result without the headline
key, or with a value that is not a number, is an error row, never a silent NaN.

A metric whose ``requires`` names a capability the model lacks (the likelihood family on a GAN),
or whose ``compute`` raises :class:`~genzoo.errors.NotApplicable` (a condition only the metric can
see, such as a feature network without a classifier head), is reported as not applicable, never as
an error. The core never branches on a metric's name.
"""

from __future__ import annotations

import hashlib
import math
import numbers
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from genzoo.errors import ConfigError, DataError, GenzooError, NotApplicable


def _stable_seed(seed: int, name: str) -> int:
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


class EvalContext:
    """Everything metrics share for one model: data, samples, seeds and a cache."""

    def __init__(
        self,
        model: Any,
        real: Tensor,
        *,
        n_generated: int | None = None,
        reference: Tensor | None = None,
        device: str | torch.device = "cpu",
        seed: int = 0,
        dataset: str | None = None,
        batch_size: int = 500,
        generated: Tensor | None = None,
    ) -> None:
        if real.dim() not in (4, 5) or len(real) < 2:
            raise DataError(f"evaluation needs at least 2 real images of shape (N, C, ...), got {tuple(real.shape)}")
        self.model = model
        self.real = real.float().cpu()
        self.reference = reference.float().cpu() if reference is not None else None
        self.n_generated = int(n_generated or len(real))
        self.device = torch.device(device)
        self.seed = int(seed)
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.notes: dict[str, str] = {}
        self._generated = generated.float().cpu() if generated is not None else None
        self._cache: dict[Hashable, Any] = {}

    def generator(self, name: str) -> torch.Generator:
        """A fresh CPU generator for the named random stream (same seed -> same stream)."""
        return torch.Generator().manual_seed(_stable_seed(self.seed, name))

    @property
    def generated(self) -> Tensor:
        """``n_generated`` model samples in [-1, 1] on the CPU, drawn once and shared."""
        if self._generated is None:
            self._generated = generate_samples(
                self.model, self.n_generated, self.generator("samples"), self.device, self.batch_size
            )
        return self._generated

    def cached(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """Compute ``key`` once per context (features, a shared likelihood pass, ...)."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]


@torch.no_grad()
def generate_samples(
    model: Any, n: int, generator: torch.Generator, device: torch.device | str = "cpu", batch_size: int = 500
) -> Tensor:
    """``n`` samples from ``model`` in batches, with noise from ``generator``; clamped to [-1, 1]."""
    model.eval()
    out = []
    for start in range(0, n, batch_size):
        noise = model.sample_noise(min(batch_size, n - start), generator).to(device)
        images = model.generate(noise).float()
        if not bool(torch.isfinite(images).all()):
            raise GenzooError("the model generated non-finite values; the checkpoint may come from a diverged run")
        out.append(images.clamp(-1, 1).cpu())
    return torch.cat(out)


@dataclass
class MetricResult:
    """One metric's outcome: values, or why it was not applicable or failed."""

    name: str
    values: dict[str, float] = field(default_factory=dict)
    status: str = "ok"  # "ok", "n/a" or "error"
    reason: str = ""
    higher_is_better: bool | None = None
    seconds: float = 0.0

    @property
    def value(self) -> float:
        return self.values.get(self.name, math.nan)

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.name,
            "status": self.status,
            "value": None if self.status != "ok" else _json_float(self.value),
            "values": {k: _json_float(v) for k, v in self.values.items()},
            "reason": self.reason,
            "higher_is_better": self.higher_is_better,
            "seconds": round(self.seconds, 3),
        }


def _json_float(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def evaluate(
    context: EvalContext,
    metrics: Sequence[str],
    configs: dict[str, Any] | None = None,
    registry: Any = None,
    *,
    on_error: str = "raise",
    progress: Callable[[str], None] | None = None,
) -> list[MetricResult]:
    """Run ``metrics`` (registry names) on ``context``; inapplicable ones come back as n/a.

    Args:
        configs: per-metric config (dataclass or dict) by metric name.
        on_error: ``"raise"`` re-raises a metric's :class:`GenzooError`; ``"record"`` keeps going
            and returns it as an ``error`` row.
    """
    if registry is None:
        from genzoo.registry import get_registry

        registry = get_registry()
    configs = configs or {}
    capabilities = set(getattr(context.model, "capabilities", ()))
    # Every config first: a nonsense value (kid.subsets=0) is one error before any work is done.
    specs = {name: registry.get("metric", name) for name in metrics}
    built = {name: registry.make_config(spec, configs.get(name, configs.get(spec.name))) for name, spec in specs.items()}
    results = []
    for name in metrics:
        spec = specs[name]
        result = MetricResult(spec.name, higher_is_better=spec.higher_is_better)
        missing = [need for need in spec.requires if need not in capabilities]
        if missing:
            result.status = "n/a"
            result.reason = f"needs a model with {', '.join(missing)}"
            results.append(result)
            continue
        if progress is not None:
            progress(spec.name)
        started = time.perf_counter()
        try:
            metric = registry.build_metric(name, built[name])
            result.values = metric_values(spec.name, metric.compute(context))
        except NotApplicable as exc:
            result.status, result.reason = "n/a", str(exc)
        except Exception as exc:  # a broken metric plugin must not sink the other rows
            if on_error == "raise":
                raise
            reason = str(exc) if isinstance(exc, GenzooError) else f"{type(exc).__name__}: {exc}"
            result.status, result.reason = "error", reason
        result.seconds = time.perf_counter() - started
        results.append(result)
    return results


def metric_values(name: str, values: Any) -> dict[str, float]:
    """Check a metric's result against the convention (a dict of numbers holding the key ``name``)."""
    if not isinstance(values, dict):
        raise GenzooError(f"metric '{name}' returned {type(values).__name__}, not a dict of numbers")
    out: dict[str, float] = {}
    for key, value in values.items():
        number = isinstance(value, numbers.Real) or (isinstance(value, Tensor) and value.numel() == 1)
        if isinstance(value, bool) or not number:
            raise GenzooError(f"metric '{name}' returned {key!r}={value!r:.40}, which is not a number")
        out[str(key)] = float(value)
    if name not in out:
        keys = ", ".join(map(repr, out)) or "nothing"
        raise GenzooError(
            f"metric '{name}' returned no '{name}' value (it returned {keys}); the headline must be under "
            "the metric's own name"
        )
    return out


def dataset_images(dataset: Any, limit: int | None = None, seed: int = 0) -> tuple[Tensor, Tensor | None]:
    """All images of an :class:`~genzoo.data.ImageDataset` as one tensor (and its labels), or a
    seeded random subset of ``limit`` of them (splits may be ordered by class)."""
    n = len(dataset)
    if n == 0:
        raise DataError(f"data set {getattr(dataset, 'name', '?')} is empty")
    index = torch.arange(n)
    if limit is not None and 0 < limit < n:
        # Random order, not sorted: any prefix of the subset is itself a random subset (splits may be
        # ordered by class, so a sorted prefix would hold only the first classes).
        index = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:limit]
    images = getattr(dataset, "images", None)
    if isinstance(images, Tensor):
        picked = images[index].float()
    else:
        picked = torch.stack([dataset[int(i)] for i in index]).float()
    labels = getattr(dataset, "labels", None)
    return picked, (labels[index] if isinstance(labels, Tensor) else None)


def parse_metric_list(text: str | None, available: Sequence[str]) -> list[str]:
    """``"mmd,fid"`` -> names; ``None`` or ``"all"`` -> every installed metric; ``""`` is an error."""
    if text is None or text.strip() == "all":
        return list(available)
    names = [part.strip() for part in text.split(",") if part.strip()]
    if not names:
        raise ConfigError("--metrics is empty; give names like mmd,ms-ssim,fid or 'all'")
    return names


@dataclass
class EvalReport:
    """What ``genzoo eval`` prints: the setting and one :class:`MetricResult` per metric."""

    checkpoint: str
    model: str
    dataset: str
    split: str
    n_real: int
    n_generated: int
    seed: int
    results: list[MetricResult]
    notes: dict[str, str] = field(default_factory=dict)
    model_overrides: list[str] = field(default_factory=list)  # settings changed from the file's (--model-set)

    def to_dict(self) -> dict[str, Any]:
        return {
            "checkpoint": self.checkpoint,
            "model": self.model,
            "dataset": self.dataset,
            "split": self.split,
            "n_real": self.n_real,
            "n_generated": self.n_generated,
            "seed": self.seed,
            "results": [r.to_dict() for r in self.results],
            "notes": self.notes,
            "model_overrides": self.model_overrides,
        }


def load_eval_data(
    dataset: str,
    config: Any,
    data_dir: Any,
    n: int,
    seed: int,
    registry: Any,
    reference: bool = True,
) -> tuple[Tensor, Tensor | None, str]:
    """Up to ``n`` held-out images of ``dataset`` (its ``eval_split``) and, where the data set has a
    different training split, as many training images as the real-vs-real reference."""
    spec = registry.get("dataset", dataset)
    eval_split = spec.eval_split
    real, _ = dataset_images(registry.build_dataset(dataset, config, eval_split, data_dir), n, seed)
    ref = None
    train_split = spec.splits[0] if spec.splits else None
    if reference and train_split and train_split not in (eval_split, "all"):
        # As many training images as held-out ones: the floor must use the same N as the score.
        ref, _ = dataset_images(registry.build_dataset(dataset, config, train_split, data_dir), len(real), seed + 1)
    return real, ref, eval_split


def fit_checkpoint_prior(model: Any, meta: dict[str, Any], data_dir: Any = None, *, source: str = "", registry: Any = None) -> int:
    """Fit a loaded model's sampling prior (``fit_prior``) to the first ``prior_fit_images`` images of
    the training split of the data set its checkpoint names; returns how many it used."""
    import torch

    from genzoo.batches import leading_batches

    if registry is None:
        from genzoo.registry import get_registry

        registry = get_registry()
    wanted = int(model.prior_fit_images)
    if wanted <= 0:
        raise ConfigError(f"model {meta.get('model')} has no prior to fit (no encoder, or its sampling prior is N(0, I)); nothing written")
    name = meta.get("dataset")
    if not name:
        raise ConfigError(f"{source} does not name its data set, so its training images are unknown")
    with registry.pinned(meta.get("components"), needed_by=source):
        spec = registry.get("dataset", name)
        dataset = registry.build_dataset(name, meta.get("dataset_config") or None, spec.splits[0], data_dir)
    count = min(wanted, len(dataset))
    device = next(model.parameters()).device
    model.eval()
    with torch.no_grad():
        model.fit_prior(leading_batches(dataset, count, 256, device))
    return count


def evaluate_checkpoint(
    checkpoint: Any,
    metrics: Sequence[str] | None = None,
    *,
    dataset: str | None = None,
    data_dir: Any = None,
    n: int = 1000,
    seed: int = 0,
    device: str = "cpu",
    configs: dict[str, Any] | None = None,
    registry: Any = None,
    on_error: str = "record",
    progress: Callable[[str], None] | None = None,
    model_overrides: Sequence[str] = (),
) -> EvalReport:
    """Load a checkpoint and score it against the held-out split of its (or the given) data set.

    ``model_overrides`` (``key=value``) change the model's sampling settings (wgan-gp's ``refine_steps=0``,
    say); the report lists them, since its scores are then not the file's as shipped."""
    from genzoo.checkpoint import load_model

    if registry is None:
        from genzoo.registry import get_registry

        registry = get_registry()
    if n < 2:
        raise ConfigError(f"-n must be at least 2, got {n}")
    from genzoo.sizes import check_seed

    check_seed(seed)
    model, meta = load_model(checkpoint, device=str(device), registry=registry, overrides=model_overrides,
                             sampling_only=True)
    name = dataset or meta.get("dataset")
    if not name:
        raise ConfigError(f"{checkpoint} does not name its data set; pass --dataset")
    recorded = name == meta.get("dataset")
    data_config = meta.get("dataset_config") if recorded else None
    # The recorded data set resolves to the plugin that provided it at training time (a shadowing
    # plugin installed since, or the provider missing, gives the same line as loading the model).
    pins = meta.get("components") if recorded else None
    with registry.pinned(pins, needed_by=str(checkpoint)):
        real, reference, split = load_eval_data(name, data_config or None, data_dir, n, seed, registry)
    if tuple(real.shape[1:]) != tuple(model.data_shape):
        raise DataError(
            f"the model makes images of shape {tuple(model.data_shape)} "
            f"but {name}/{split} holds {tuple(real.shape[1:])}"
        )
    # As many samples as held-out images (a small eval split caps both): FID and KID are biased in
    # N, so the score and its real-vs-real floor must use one N.
    context = EvalContext(
        model, real, n_generated=len(real), reference=reference, device=device, seed=seed, dataset=name
    )
    names = list(metrics) if metrics else registry.names("metric")
    results = evaluate(context, names, configs, registry, on_error=on_error, progress=progress)
    return EvalReport(
        checkpoint=str(checkpoint),
        model=str(meta.get("model")),
        dataset=name,
        split=split,
        n_real=len(real),
        n_generated=len(real),
        seed=seed,
        results=results,
        notes=dict(context.notes),
        model_overrides=list(model_overrides),
    )
