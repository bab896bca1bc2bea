"""``genzoo report``: regenerate the paper's comparison tables with one command.

Every model is trained by the shared trainer (``genzoo.trainer.train``) with the same seed, data
and step budget (or taken from a given checkpoint), then scored by :mod:`genzoo.evaluation` on
the same held-out images, the same generated-sample count and the same random pairs/subsets:

- Table 3: MMD, Kwon's linear MMD, MS-SSIM (beside the real-pair value), FID (beside the
  real-vs-real floor) and KID for every model, plus a "real data" row that scores training images
  against the held-out split (the best any model can do at this N).
- Table 4: the same metrics for GVAE at several latent sizes.
- Table 5: VAE against GVAE: IWAE log-likelihood, reconstruction error, ELBO and KL.
- Figures: the models' samples side by side (the paper's Fig. 7) and their loss curves.

The report folder holds ``report.md``, ``results.json``, ``samples.png``, ``loss_curves.png`` and
the runs (``runs/NAME``), so a rerun with the same folder resumes and reuses finished runs.
"""

from __future__ import annotations

import json
import math
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from genzoo.errors import ConfigError

PAPER_MODELS = ("gvae", "vae", "wgan-gp", "alpha-gan", "vae-gan")
TABLE3_METRICS = ("mmd", "mmd-linear", "ms-ssim", "fid", "kid")
TABLE5_METRICS = ("log-likelihood", "recon-error", "elbo", "kl")


@dataclass
class ReportSettings:
    """What a report trains and how it scores (the CLI's options)."""

    out: Path
    models: tuple[str, ...] = PAPER_MODELS
    dataset: str = "mnist5k"
    data_dir: str | None = None
    steps: int = 2000
    batch_size: int = 64
    seed: int = 0
    device: str = "cpu"
    n: int = 1000
    pairs: int = 1000
    checkpoints: dict[str, str] = field(default_factory=dict)
    sweep_model: str = "gvae"
    latent_sizes: tuple[int, ...] = (16, 32, 64, 128)
    likelihood_models: tuple[str, ...] = ("vae", "gvae")
    iwae_k: int = 5000
    iwae_images: int = 1000


class _RealData:
    """Stands in for a model in the "real data" row: it has no capabilities."""

    capabilities = frozenset()


def _metric_configs(settings: ReportSettings) -> dict[str, dict[str, Any]]:
    likelihood = {"samples": settings.iwae_k, "max_images": settings.iwae_images}
    configs: dict[str, dict[str, Any]] = {name: dict(likelihood) for name in TABLE5_METRICS}
    configs["ms-ssim"] = {"pairs": settings.pairs}
    configs["kid"] = {"subset_size": min(1000, settings.n)}
    return configs


class ReportBuilder:
    """Trains, scores and writes one report; see the module docstring."""

    def __init__(self, settings: ReportSettings, registry: Any = None, log: Callable[[str], None] = print) -> None:
        from genzoo.registry import get_registry

        self.settings = settings
        self.registry = registry or get_registry()
        self.log = log
        self.out = Path(settings.out)
        self.configs = _metric_configs(settings)
        self.results: dict[str, Any] = {
            "settings": _jsonable(asdict(settings)),
            "table3": {},
            "table4": {},
            "table5": {},
        }
        self.samples: dict[str, torch.Tensor] = {}
        self.runs: dict[str, Path] = {}
        self.paths: dict[str, Path] = {}

    # --- training ---------------------------------------------------------------------------
    def checkpoint(self, key: str, model: str, model_config: dict[str, Any] | None = None) -> Path:
        """The given checkpoint for ``key``, or a run trained now under ``runs/KEY``."""
        if key in self.settings.checkpoints:
            return Path(self.settings.checkpoints[key])
        if key in self.paths:
            return self.paths[key]
        from genzoo.runconfig import RunConfig, TrainConfig
        from genzoo.trainer import train

        s = self.settings
        config = RunConfig(
            model=model,
            dataset=s.dataset,
            data_dir=s.data_dir,
            train=TrainConfig(
                steps=s.steps,
                batch_size=s.batch_size,
                seed=s.seed,
                device=s.device,
                sample_every=0,
                checkpoint_every=0,
                keep_last=1,
                log_every=max(1, min(25, s.steps // 20)),
            ),
            model_config=dict(model_config or {}),
        )
        run_dir = self.out / "runs" / key
        started = time.perf_counter()
        self.log(f"training {key} ({model}, {s.steps} steps) in {run_dir}")
        result = train(config, run_dir, registry=self.registry)
        self.log(f"trained {key} in {time.perf_counter() - started:.0f} s")
        self.runs[key] = run_dir
        self.paths[key] = result.model_path
        return result.model_path

    # --- scoring ----------------------------------------------------------------------------
    def score(self, key: str, path: Path | None, metrics: tuple[str, ...]) -> dict[str, Any]:
        from genzoo.checkpoint import load_model
        from genzoo.evaluation import EvalContext, evaluate

        if path is None:  # the real-data row: training images scored as if generated
            model: Any = _RealData()
            generated = self.reference
        else:
            model, _ = load_model(path, device=self.settings.device, registry=self.registry)
            generated = None
        context = EvalContext(
            model,
            self.real,
            n_generated=len(self.real),
            reference=self.reference,
            device=self.settings.device,
            seed=self.settings.seed,
            dataset=self.settings.dataset,
            generated=generated,
        )
        results = evaluate(context, list(metrics), self.configs, self.registry, on_error="record")
        if path is not None:
            self.samples[key] = context.generated[:64]
        row = {r.name: r.to_dict() for r in results}
        row["_notes"] = dict(context.notes)
        for r in results:
            if r.status == "error":
                self.log(f"{key}: {r.name} failed: {r.reason}")
        return row

    def build(self) -> Path:
        from genzoo.evaluation import load_eval_data

        s = self.settings
        if s.n < 2:
            raise ConfigError("--n must be at least 2")
        self.out.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        self.real, self.reference, self.split = load_eval_data(s.dataset, None, s.data_dir, s.n, s.seed, self.registry)
        self.results["n_real"] = len(self.real)
        self.log(f"scoring against {len(self.real)} held-out {s.dataset}/{self.split} images and as many samples")
        if self.reference is not None:
            self.results["table3"]["real data"] = self.score("real data", None, TABLE3_METRICS)
        for model in s.models:
            path = self.checkpoint(model, model)
            self.results["table3"][model] = self.score(model, path, TABLE3_METRICS)
        for model in s.likelihood_models:
            if model in s.models:
                self.log(f"likelihood of {model} (IWAE k={s.iwae_k})")
                self.results["table5"][model] = self.score(model, self.checkpoint(model, model), TABLE5_METRICS)
        default_latent = getattr(self.registry.get("model", s.sweep_model).default_config(), "latent_dim", None)
        for size in s.latent_sizes:
            key = f"{s.sweep_model}-z{size}"
            if size == default_latent and s.sweep_model in s.models and key not in s.checkpoints:
                path = self.checkpoint(s.sweep_model, s.sweep_model)  # the Table 3 run has this latent size
            else:
                path = self.checkpoint(key, s.sweep_model, {"latent_dim": size})
            self.results["table4"][str(size)] = self.score(key, path, TABLE3_METRICS)
        self.results["seconds"] = round(time.perf_counter() - started, 1)
        self.results["machine"] = machine_description(s.device)
        self.write()
        return self.out / "report.md"

    # --- output -------------------------------------------------------------------------------
    def write(self) -> None:
        from genzoo_metrics.report_figures import save_loss_curves, save_samples_figure
        from genzoo_metrics.report_markdown import render_markdown

        figures = {}
        if self.samples:
            figures["samples"] = save_samples_figure(
                {k: v for k, v in self.samples.items() if k in self.settings.models}, self.out / "samples.png"
            )
            sweep = {k: v for k, v in self.samples.items() if k.startswith(self.settings.sweep_model + "-z")}
            if sweep:
                figures["sweep_samples"] = save_samples_figure(sweep, self.out / "sweep_samples.png")
        runs = {k: p for k, p in self.runs.items() if k in self.settings.models}
        if runs:
            figures["loss_curves"] = save_loss_curves(runs, self.out / "loss_curves.png")
        self.results["figures"] = {k: v.name for k, v in figures.items() if v is not None}
        (self.out / "results.json").write_text(json.dumps(self.results, indent=2) + "\n")
        (self.out / "report.md").write_text(render_markdown(self.results))


def machine_description(device: str) -> str:
    """CPU/GPU, threads and library versions, recorded beside the numbers."""
    text = f"{platform.machine()} {platform.system()}, torch {torch.__version__}, {torch.get_num_threads()} threads"
    if device.startswith("cuda") and torch.cuda.is_available():
        text += f", {torch.cuda.get_device_name(0)}"
    return text


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def value_of(row: dict[str, Any], metric: str, key: str | None = None) -> float:
    """A metric's value (or a qualifier like ``fid.floor``) from a results row; NaN if absent."""
    entry = row.get(metric) or {}
    if entry.get("status") != "ok":
        return math.nan
    value = (entry.get("values") or {}).get(key or metric)
    return math.nan if value is None else float(value)
