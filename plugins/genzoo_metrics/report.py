"""``genzoo report``: the paper's comparison as a protocol a reviewer can accept.

Every figure is the mean over ``seeds`` training seeds with a 95 % Student-t interval
(:mod:`genzoo_metrics.report_stats`); which runs exist is decided by :mod:`genzoo_metrics.report_plan`:

- a shared learning-rate sweep, scored by FID on a validation split carved out of the training data;
- Table 3: every model under its paper's settings and under the sweep's best lr, scored on the real
  held-out split (the 10,000-image MNIST test split when ``--test-data-dir`` gives its files);
- metric-vs-step curves (FID, precision, recall) from the tuned runs' intermediate checkpoints, and
  the evaluation noise (one checkpoint scored under several evaluation seeds) reported apart;
- Table 4: the latent-size sweep; the ablations of the sweep model (its ``ablation-*`` presets);
- Table 5: likelihood of the models with an encoder; the paper's claims with their verdicts.

Budgets are stated as iterations, images seen and wall time. The report folder holds
``report.md``, ``results.json``, figures and ``runs/``: a rerun reuses every finished run.
"""

from __future__ import annotations

import json
import math
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from genzoo.errors import ConfigError
from genzoo_metrics import report_plan as plan
from genzoo_metrics.report_stats import interval

PAPER_MODELS = ("gvae", "vae", "wgan-gp", "alpha-gan", "vae-gan", "avb")
QUALITY_METRICS = ("mmd", "mmd-linear", "ms-ssim", "fid", "kid", "precision-recall", "class-coverage", "sharpness")
CURVE_METRICS = ("fid", "precision-recall")
LIKELIHOOD_METRICS = ("log-likelihood", "recon-error", "elbo", "kl")
RUN_RECORD = "report_run.json"
INTERRUPTIONS = "report_interrupted.json"  # what the interrupted attempts at a run cost, until it finishes
KEEP_ALL = 1_000_000  # train.keep_last while a curve run trains


@dataclass
class ReportSettings:
    """What a report trains and how it scores (the CLI's options; ``quick()`` for a smoke check)."""

    out: Path
    models: tuple[str, ...] = PAPER_MODELS
    dataset: str = "mnist5k"
    data_dir: str | None = None
    test_dataset: str | None = None
    test_data_dir: str | None = None
    steps: int | None = None
    batch_size: int = 64
    seeds: tuple[int, ...] = (0, 1, 2)
    sweep_lrs: tuple[float, ...] = (1e-4, 3e-4, 1e-3)
    holdout: int = 500
    device: str = "cpu"
    n: int = 1000
    pairs: int = 1000
    curve_points: int = 4
    curve_n: int = 500
    eval_seeds: int = 3
    sweep_model: str = "gvae"
    latent_sizes: tuple[int, ...] = (100, 500, 1000, 2000)
    ablations: bool = True
    likelihood_models: tuple[str, ...] = ("vae", "gvae", "avb")
    iwae_k: int = 1000
    iwae_images: int = 500
    quick: bool = False

    def check(self) -> None:
        if len(self.seeds) < 1 or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"--seeds must be distinct integers, got {self.seeds}")
        if self.n < 2 or self.curve_n < 2:
            raise ConfigError("-n and --curve-n must be at least 2")
        if self.steps is not None and self.steps < 1:
            raise ConfigError(f"--steps must be at least 1, got {self.steps}")
        if any(not lr > 0 for lr in self.sweep_lrs):
            raise ConfigError(f"--lrs must be positive learning rates, got {self.sweep_lrs}")
        if self.sweep_lrs and self.holdout < 2:
            raise ConfigError("--holdout must be at least 2 images for the validation split of the lr sweep")
        if self.curve_points < 0 or self.eval_seeds < 0:
            raise ConfigError("--curve-points and --eval-seeds must be >= 0")


QUICK = {
    "steps": 40, "seeds": (0, 1), "sweep_lrs": (3e-4, 1e-3), "holdout": 300, "n": 300, "pairs": 200,
    "curve_points": 2, "curve_n": 200, "eval_seeds": 2, "latent_sizes": (16, 64), "iwae_k": 16,
    "iwae_images": 100,
}  # fmt: skip


def quick_settings(out: Path, **given: Any) -> ReportSettings:
    """The ``--quick`` profile: every part of the protocol on tiny budgets (a smoke check)."""
    return ReportSettings(out=out, quick=True, **{**QUICK, **given})


class _RealData:
    """Stands in for a model in the "real data" row: it has no capabilities."""

    capabilities = frozenset()


@dataclass
class RunRecord:
    """What a finished run cost: iterations, images seen and seconds."""

    steps: int
    images_seen: int
    seconds: float
    checkpoints: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)  # the resolved run config: reuse only if it matches
    interrupted_at: list[int] = field(default_factory=list)  # steps an interrupt stopped it at (``seconds`` sums the parts)
    seconds_partial: bool = False  # a part ended by a hard kill is missing from ``seconds``


class ReportBuilder:
    """Trains, scores and writes one report; see the module docstring."""

    def __init__(self, settings: ReportSettings, registry: Any = None, log: Callable[[str], None] = print) -> None:
        from genzoo.registry import get_registry

        settings.check()
        self.s = settings
        self.registry = registry or get_registry()
        for name in {*settings.models, settings.sweep_model, *settings.likelihood_models}:
            self.registry.get("model", name)  # an unknown name fails now, not after hours of training
        self.log = log
        self.out = Path(settings.out)
        self.results: dict[str, Any] = {"settings": _jsonable(asdict(settings)), "runs": {}}
        self.samples: dict[str, torch.Tensor] = {}
        self.run_dirs: dict[str, Path] = {}

    # --- data -------------------------------------------------------------------------------
    def _load_data(self) -> None:
        from genzoo.data import split_holdout
        from genzoo.evaluation import dataset_images

        s, reg = self.s, self.registry
        train_spec = reg.get("dataset", s.dataset)
        train_set = reg.build_dataset(s.dataset, None, train_spec.splits[0], s.data_dir)
        if s.test_dataset:
            test_spec = reg.get("dataset", s.test_dataset)
            test_set = reg.build_dataset(s.test_dataset, None, test_spec.eval_split, s.test_data_dir)
            self.test_name = f"{s.test_dataset}/{test_spec.eval_split}"
        else:
            test_set = reg.build_dataset(s.dataset, None, train_spec.eval_split, s.data_dir)
            self.test_name = f"{s.dataset}/{train_spec.eval_split}"
        # One N for the score and its real-vs-real floor (FID and KID are biased in N).
        n = min(s.n, len(test_set), len(train_set))
        self.real, _ = dataset_images(test_set, n, s.seeds[0])
        self.reference, _ = dataset_images(train_set, n, s.seeds[0] + 1)
        self.validation = None
        if s.sweep_lrs:
            _, validation_set = split_holdout(train_set, s.holdout)
            self.validation, _ = dataset_images(validation_set)
        self.results["data"] = {
            "train": f"{s.dataset}/{train_spec.splits[0]} ({len(train_set)} images)",
            "test": f"{self.test_name} ({n} of {len(test_set)} images)",
            "validation": f"{s.holdout} images held out of {s.dataset}/{train_spec.splits[0]}" if s.sweep_lrs else None,
            "n": n,
        }

    # --- training ---------------------------------------------------------------------------
    def train(self, run: plan.RunSpec, curve_points: int = 0) -> Path | None:
        """The run's folder, trained now unless the same run finished there already; ``None`` (and a
        log line) when training failed, so one diverged run costs its cell a seed, not the report."""
        from genzoo.errors import GenzooError, RunFolderBusy
        from genzoo.runconfig import resolve_run_config
        from genzoo.runfolder import read_run_config
        from genzoo.trainer import Interrupted, train

        s = self.s
        run_dir = self.out / "runs" / run.key
        self.run_dirs[run.key] = run_dir
        flags: dict[str, Any] = {"dataset": s.dataset, "data_dir": s.data_dir, "steps": s.steps,
                                 "batch_size": s.batch_size, "seed": run.seed, "device": s.device}  # fmt: skip
        overrides = [f"{k}={json.dumps(v)}" for k, v in run.overrides]
        overrides += [f"train.holdout={run.holdout}", "train.sample_every=0", "train.log_every=10"]
        config = resolve_run_config(model=run.model, flags=flags, overrides=overrides, preset=run.preset,
                                    registry=self.registry)  # fmt: skip
        steps = config.train.steps
        every = max(1, math.ceil(steps / curve_points)) if curve_points else 0  # the last is the final step
        config.train.checkpoint_every = every
        # every checkpoint is kept while training (an interrupt's own checkpoint must not push out a curve point);
        # the unscheduled ones are removed once the run has finished
        config.train.keep_last = KEEP_ALL if curve_points else 1
        requested = _jsonable(config.to_dict())  # as asked for (the trainer resolves config in place)
        record_path = run_dir / RUN_RECORD
        if record_path.is_file() and (run_dir / "model.safetensors").is_file():
            record = json.loads(record_path.read_text())
            try:
                trained = self._trained_settings(read_run_config(run_dir))
            except ConfigError as exc:  # a damaged config.json, or one no plugin can build any more
                raise ConfigError(
                    f"{run_dir} cannot be reused: its config.json does not resolve ({exc}); "
                    "give another --out (or delete that folder to retrain it)"
                ) from None
            if trained != self._trained_settings(requested):
                raise ConfigError(
                    f"{run_dir} was trained with other settings than this report asks for; "
                    "give another --out (or delete that folder to retrain it)"
                )
            self.results["runs"][run.key] = record
            return run_dir
        # a folder an interrupted report left behind resumes (bit-exact) from its last checkpoint
        earlier = _interruptions(run_dir)
        newest = _newest_step(run_dir)
        if newest and newest not in earlier["stopped_at"]:  # a hard kill (SIGKILL, out of memory) said nothing
            earlier = {"seconds": earlier["seconds"], "stopped_at": [*earlier["stopped_at"], newest], "partial": True}
        resuming = f", resuming from step {earlier['stopped_at'][-1]}" if earlier["stopped_at"] else ""
        self.log(f"training {run.key} ({steps} steps{resuming})")
        started = time.perf_counter()
        try:
            result = train(config, run_dir, registry=self.registry)
        except RunFolderBusy:  # another report (or genzoo run) is training into this folder: stop, do not race it
            raise
        except Interrupted as exc:  # Ctrl-C or a scheduler's SIGTERM stops the report, not just this run
            try:
                _note_interruption(run_dir, earlier, time.perf_counter() - started, _newest_step(run_dir))
            except (OSError, GenzooError):  # a full disk: the run still resumes; only its time is lost
                pass
            stopped = str(exc).split(" after saving")[0]  # "SIGTERM received: stopped at step N"
            raise Interrupted(f"{stopped} of {run_dir} after saving a checkpoint; rerun the same genzoo report command: "
                              "it resumes this run and reuses the finished ones") from None
        except GenzooError as exc:
            self.log(f"{run.key} failed, scored as missing: {exc}")
            self.results["runs"][run.key] = {"failed": str(exc)}
            return None
        seconds = earlier["seconds"] + time.perf_counter() - started  # every part of an interrupted run
        model = self.registry.build_model(run.model, self.registry.make_config(
            self.registry.get("model", run.model), config.model_config), self.real.shape[1:])  # fmt: skip
        batches = sum(p.steps for p in model.players())
        checkpoints = _keep_scheduled(run_dir, every, result.step) if every else []
        images = result.step * batches * config.train.batch_size
        record = RunRecord(result.step, images, round(seconds, 1), checkpoints, requested, earlier["stopped_at"],
                           earlier["partial"])
        record_path.write_text(json.dumps(asdict(record)) + "\n")
        (run_dir / INTERRUPTIONS).unlink(missing_ok=True)
        self.results["runs"][run.key] = asdict(record)
        return run_dir

    def _trained_settings(self, values: dict[str, Any]) -> dict[str, Any]:
        """What decides a run's weights, comparable between a finished run and a request.

        Both go through ``RunConfig`` (a train setting added since the run was trained reads at its
        default, as on ``--resume``) and the plugins' config classes: the model's and data set's
        configs are resolved to every field, so a run trained before a plugin changed a default
        (alpha-gan's latent size, say) no longer matches and is not silently reused.
        """
        from genzoo.config import to_dict
        from genzoo.runconfig import RunConfig

        config = RunConfig.from_dict(values)
        model = self.registry.resolve("model", config.model)
        config.model_config = to_dict(self.registry.make_config(model.spec, config.model_config))
        dataset = self.registry.resolve("dataset", config.dataset)
        config.data_config = to_dict(self.registry.make_config(dataset.spec, config.data_config))
        return _without_cadence(_jsonable(config.to_dict()))

    # --- scoring ----------------------------------------------------------------------------
    def _configs(self) -> dict[str, dict[str, Any]]:
        s = self.s
        likelihood = {"samples": s.iwae_k, "max_images": s.iwae_images, "binarise": "dynamic"}
        configs: dict[str, dict[str, Any]] = {name: dict(likelihood) for name in LIKELIHOOD_METRICS}
        configs["ms-ssim"] = {"pairs": s.pairs}
        configs["kid"] = {"subset_size": max(2, min(1000, len(self.real) // 2))}
        return configs

    def score(
        self, path: Path | None, metrics: Sequence[str], real: torch.Tensor, reference: torch.Tensor | None,
        seed: int = 0, keep_samples: str | None = None,
    ) -> dict[str, float]:
        """Flat ``{result key: value}`` of ``metrics`` for a checkpoint (``None``: the real-data row)."""
        from genzoo.checkpoint import load_model
        from genzoo.evaluation import EvalContext, evaluate

        available = set(self.registry.names("metric"))
        names = [m for m in metrics if m in available]
        if path is None:
            model: Any = _RealData()
            generated = reference
        else:
            model, _ = load_model(path, device=self.s.device, registry=self.registry)
            generated = None
        context = EvalContext(model, real, n_generated=len(real), reference=reference, device=self.s.device,
                              seed=seed, dataset=self.s.dataset, generated=generated)  # fmt: skip
        flat: dict[str, float] = {}
        for result in evaluate(context, names, self._configs(), self.registry, on_error="record"):
            if result.status == "error":
                self.log(f"{path}: {result.name} failed: {result.reason}")
            if result.status != "ok":
                continue
            for key, value in (result.values or {}).items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    flat[key] = float(value)
        if keep_samples and path is not None:
            self.samples[keep_samples] = context.generated[:64]
        return flat

    def cell(self, runs: list[plan.RunSpec], metrics: Sequence[str], curve_points: int = 0,
             samples_label: str | None = None) -> dict[str, Any]:  # fmt: skip
        """Train and score every seed of one table cell; values per seed and their intervals."""
        per_seed: list[dict[str, float]] = []
        for i, run in enumerate(runs):
            run_dir = self.train(run, curve_points)
            label = samples_label if i == 0 else None
            per_seed.append({} if run_dir is None else self.score(
                run_dir / "model.safetensors", metrics, self.real, self.reference, keep_samples=label))  # fmt: skip
        records = [self.results["runs"][r.key] for r in runs if "failed" not in self.results["runs"][r.key]]
        return summarise(per_seed, [r.key for r in runs], records)

    # --- the protocol -------------------------------------------------------------------------
    def _presets(self, model: str) -> dict[str, Any]:
        return dict(getattr(self.registry.get("model", model), "presets", {}) or {})

    def sweep(self) -> dict[str, float | None]:
        s = self.s
        best: dict[str, float | None] = {}
        table: dict[str, dict[str, float]] = {}
        for model in s.models:
            fids: dict[float, float] = {}
            for run in plan.sweep_runs([model], s.sweep_lrs, s.holdout, s.seeds[0]):
                run_dir = self.train(run)
                values = {} if run_dir is None else self.score(run_dir / "model.safetensors", ("fid",), self.validation, None)
                fids[run.override_dict().get("train.lr", plan.OWN_LR)] = values.get("fid", float("nan"))
            choice = plan.best_lr(fids)
            best[model] = None if choice == plan.OWN_LR else choice
            table[model] = {plan.lr_label(lr): v for lr, v in fids.items()}
        self.results["sweep"] = {"validation_fid": table, "best_lr": best}
        return best

    def build(self) -> Path:
        s = self.s
        started = time.perf_counter()
        self.out.mkdir(parents=True, exist_ok=True)
        self._load_data()
        self.log(f"scoring on {len(self.real)} images of {self.test_name}, {len(s.seeds)} training seeds per cell")
        best = self.sweep() if s.sweep_lrs else {m: None for m in s.models}
        table3: dict[str, Any] = {"real data": summarise([self.score(None, QUALITY_METRICS, self.real, self.reference)])}
        curves: dict[str, Any] = {}
        noise: dict[str, Any] = {}
        row_settings: dict[str, dict[str, list[Any]]] = {}
        for model in s.models:
            paper = plan.paper_runs(model, self._presets(model), s.seeds)
            table3[f"{model} (paper)"] = self.cell(paper, QUALITY_METRICS)
            tuned = plan.tuned_runs(model, best.get(model), s.seeds)
            table3[f"{model} (tuned)"] = self.cell(tuned, QUALITY_METRICS, s.curve_points, samples_label=model)
            row_settings[model] = self.row_settings(paper[0], tuned[0])
            if s.curve_points:
                curves[model] = self.curve(tuned)
            if s.eval_seeds:
                noise[model] = self.evaluation_noise(tuned[0])
        self.results.update({"table3": table3, "row_settings": row_settings, "curves": curves, "eval_noise": noise})
        sweep_lr = best.get(s.sweep_model)
        table4: dict[str, Any] = {}
        for size in s.latent_sizes:
            runs = plan.tuned_runs(s.sweep_model, sweep_lr, s.seeds, {"latent_dim": size})
            table4[str(size)] = self.cell(runs, QUALITY_METRICS, samples_label=f"z={size}")
        self.results["table4"] = table4
        ablation: dict[str, Any] = {}
        if s.ablations:
            ablation["default"] = table3.get(f"{s.sweep_model} (tuned)")
            presets = self._presets(s.sweep_model)
            for name, runs in plan.ablation_runs(s.sweep_model, presets, sweep_lr, s.seeds).items():
                ablation[name] = self.cell(runs, QUALITY_METRICS)
                ablation[name]["overrides"] = dict(presets[plan.ABLATION_PREFIX + name])
        self.results["ablation"] = ablation
        table5: dict[str, Any] = {}
        for model in s.likelihood_models:
            if model in s.models:  # the tuned runs of Table 3; models without an encoder score n/a
                row = self.cell(plan.tuned_runs(model, best.get(model), s.seeds), LIKELIHOOD_METRICS, s.curve_points)
                if row["metrics"]:
                    table5[model] = row
        self.results["table5"] = table5
        from genzoo_metrics.report_claims import judge_claims

        self.results["claims"] = judge_claims(self.results, s)
        self.results["seconds"] = round(time.perf_counter() - started, 1)
        self.results["machine"] = machine_description(s.device)
        self.results["code"] = code_description()
        self.write()
        return self.out / "report.md"

    def row_settings(self, paper: plan.RunSpec, tuned: plan.RunSpec) -> dict[str, list[Any]]:
        """The resolved settings in which a model's paper and tuned runs differ, ``{dotted key: [paper,
        tuned]}`` (training and sampling settings alike; {} when either run failed)."""
        from genzoo.runfolder import flatten

        records = [self.results["runs"].get(run.key, {}) for run in (paper, tuned)]
        if any("config" not in record for record in records):
            return {}
        a, b = (flatten({k: v for k, v in self._trained_settings(r["config"]).items() if k != "preset"})
                for r in records)
        return {key: [a.get(key), b.get(key)] for key in sorted(a.keys() | b.keys()) if a.get(key) != b.get(key)}

    def curve(self, runs: list[plan.RunSpec]) -> dict[str, Any]:
        """FID, precision and recall at every intermediate checkpoint, each an interval over seeds."""
        s = self.s
        real, reference = self.real[: s.curve_n], self.reference[: s.curve_n]
        by_step: dict[int, list[dict[str, float]]] = {}
        for run in runs:
            folder = self.run_dirs[run.key] / "checkpoints"
            for name in self.results["runs"][run.key].get("checkpoints") or []:
                step = _step_of(name)
                values = self.score(folder / name / "model.safetensors", CURVE_METRICS, real, reference)
                by_step.setdefault(step, []).append(values)
        return {str(step): summarise(rows)["metrics"] for step, rows in sorted(by_step.items())}

    def evaluation_noise(self, run: plan.RunSpec) -> dict[str, Any]:
        """One checkpoint scored under ``eval_seeds`` evaluation seeds: the spread that is not training."""
        path = self.run_dirs[run.key] / "model.safetensors"
        if not path.is_file():
            return {"run": run.key, "metrics": {}}
        rows = [self.score(path, QUALITY_METRICS, self.real, self.reference, seed=1000 + i)
                for i in range(self.s.eval_seeds)]  # fmt: skip
        return {"run": run.key, **summarise(rows)}

    # --- output -------------------------------------------------------------------------------
    def write(self) -> None:
        from genzoo_metrics.report_figures import save_curves, save_loss_curves, save_samples_figure
        from genzoo_metrics.report_markdown import render_markdown

        figures: dict[str, Path | None] = {}
        models = [m for m in self.samples if m in self.s.models]
        if models:
            figures["samples"] = save_samples_figure({m: self.samples[m] for m in models}, self.out / "samples.png")
        sweep = {k: v for k, v in self.samples.items() if k.startswith("z=")}
        if sweep:
            figures["sweep_samples"] = save_samples_figure(sweep, self.out / "sweep_samples.png")
        tuned = {m: self.run_dirs[r.key] for m in self.s.models
                 for r in plan.tuned_runs(m, self.results.get("sweep", {}).get("best_lr", {}).get(m), self.s.seeds[:1])
                 if r.key in self.run_dirs}  # fmt: skip
        if tuned:
            figures["loss_curves"] = save_loss_curves(tuned, self.out / "loss_curves.png")
        if self.results.get("curves"):
            figures["metric_curves"] = save_curves(self.results["curves"], self.out / "metric_curves.png")
        self.results["figures"] = {k: v.name for k, v in figures.items() if v is not None}
        (self.out / "results.json").write_text(json.dumps(_jsonable(self.results), indent=2) + "\n")
        (self.out / "report.md").write_text(render_markdown(self.results))


def summarise(per_seed: list[dict[str, float]], keys: Sequence[str] = (), records: Sequence[dict] = ()) -> dict[str, Any]:
    """Per-seed values of one cell and, for every result key, the mean with its 95 % t-interval."""
    names = sorted({k for row in per_seed for k in row})
    metrics = {k: interval([row.get(k, float("nan")) for row in per_seed]).to_dict() for k in names}
    cell: dict[str, Any] = {"metrics": metrics, "per_seed": per_seed, "runs": list(keys)}
    if records:
        for field_name in ("steps", "images_seen", "seconds"):
            cell[field_name] = interval([r[field_name] for r in records]).to_dict()
    return cell


def _step_of(checkpoint_name: str) -> int:
    return int(checkpoint_name.rsplit("-", 1)[-1])  # step-00000400


def _newest_step(run_dir: Path) -> int:
    """The step of the run folder's newest complete checkpoint (0: none)."""
    from genzoo.trainer import checkpoint_dirs

    return max((_step_of(p.name) for p in checkpoint_dirs(run_dir)), default=0)


def _interruptions(run_dir: Path) -> dict[str, Any]:
    """What earlier, interrupted attempts at a run cost: ``{"seconds": s, "stopped_at": [step, ...]}``."""
    path = run_dir / INTERRUPTIONS
    try:
        data = json.loads(path.read_text()) if path.is_file() else {}
        seconds, stops = float(data.get("seconds", 0.0)), [int(x) for x in data.get("stopped_at", [])]
        partial = bool(data.get("partial", False))
    except (ValueError, TypeError, AttributeError, OSError):
        raise ConfigError(f"{path} is damaged; delete it (the run's wall time will count only what follows)") from None
    return {"seconds": seconds, "stopped_at": stops, "partial": partial}


def _note_interruption(run_dir: Path, earlier: dict[str, Any], seconds: float, step: int) -> None:
    from genzoo.checkpoint import atomic_write

    text = json.dumps({"seconds": earlier["seconds"] + seconds, "stopped_at": [*earlier["stopped_at"], step],
                       "partial": earlier["partial"]})
    atomic_write(run_dir / INTERRUPTIONS, lambda tmp: tmp.write_text(text + "\n"))


def _keep_scheduled(run_dir: Path, every: int, final: int) -> list[str]:
    """The curve's checkpoints (every ``every`` steps and the final one); those an interrupt added are removed."""
    import shutil

    from genzoo.trainer import checkpoint_dirs

    kept = []
    for folder in checkpoint_dirs(run_dir):
        step = _step_of(folder.name)
        if step % every == 0 or step == final:
            kept.append(folder.name)
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return sorted(kept)


def _without_cadence(config: dict[str, Any] | None) -> dict[str, Any]:
    """A run config without the settings that do not change the trained model (checkpoint cadence)."""
    config = json.loads(json.dumps(config or {}))
    for key in ("checkpoint_every", "keep_last", "log_every", "sample_every"):
        config.get("train", {}).pop(key, None)
    return config


def machine_description(device: str) -> str:
    """CPU/GPU, threads and library versions, recorded beside the numbers."""
    import os

    text = (f"{platform.machine()} {platform.system()}, {os.cpu_count()} cores, torch {torch.__version__}, "
            f"{torch.get_num_threads()} thread(s)")  # fmt: skip
    if device.startswith("cuda") and torch.cuda.is_available():
        text += f", {torch.cuda.get_device_name(0)}"
    return text


def code_description() -> str:
    """The genzoo version and, from a git checkout, its commit: the code the regenerate line needs."""
    import subprocess

    import genzoo

    here = Path(genzoo.__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(here), "rev-parse", "--short=12", "HEAD"],
                                capture_output=True, text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):  # no git, or an installed wheel outside any checkout
        return f"genzoo {genzoo.__version__} (commit unknown: not run from a git checkout)"
    return f"genzoo {genzoo.__version__}, commit {commit}" + (" with uncommitted changes" if dirty else "")


def _jsonable(value: Any) -> Any:
    """JSON-safe copy: paths and tuples as strings and lists, NaN and infinities as null."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)
