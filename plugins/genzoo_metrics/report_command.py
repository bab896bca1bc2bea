"""The ``genzoo report`` command (options only; the work is in :mod:`genzoo_metrics.report`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _numbers(text: str, kind: type, flag: str) -> tuple[Any, ...]:
    from genzoo.errors import ConfigError

    try:
        return tuple(kind(x) for x in _names(text))
    except ValueError:
        raise ConfigError(f"{flag} {text!r}: expected comma-separated numbers like 1,2,3") from None


def report_command(
    models: Optional[str] = typer.Option(None, "--models", help="Models of Table 3 (default: gvae,vae,wgan-gp,alpha-gan,vae-gan,avb)."),
    dataset: str = typer.Option("mnist5k", "--dataset", "-d", help="Data set every model trains on."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", help="Where the training data set's files are."),
    test_dataset: Optional[str] = typer.Option(None, "--test-dataset", help="Score on this data set's held-out split instead (e.g. mnist)."),
    test_data_dir: Optional[str] = typer.Option(None, "--test-data-dir", help="Its files (e.g. the MNIST t10k IDX files)."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Iterations per run (default: each model's default budget)."),
    batch_size: int = typer.Option(64, "--batch-size", "-b"),
    seeds: Optional[str] = typer.Option(None, "--seeds", help="Training seeds of every cell (default 0,1,2)."),
    lrs: Optional[str] = typer.Option(None, "--lrs", help="Shared lr sweep grid (default 1e-4,3e-4,1e-3; '' to skip)."),
    holdout: Optional[int] = typer.Option(None, "--holdout", help="Training images held out as the sweep's validation split."),
    n: Optional[int] = typer.Option(None, "-n", help="Evaluation images and as many samples per run."),
    pairs: Optional[int] = typer.Option(None, "--pairs", help="Random pairs for MS-SSIM."),
    curve_points: Optional[int] = typer.Option(None, "--curve-points", help="Intermediate checkpoints scored per tuned run (0: no curves)."),
    curve_n: Optional[int] = typer.Option(None, "--curve-n", help="Images per curve point."),
    eval_seeds: Optional[int] = typer.Option(None, "--eval-seeds", help="Evaluation seeds of the evaluation-noise table (0: skip)."),
    sweep_model: str = typer.Option("gvae", "--sweep-model", help="Model of the latent sweep and the ablations."),
    latent_sizes: Optional[str] = typer.Option(None, "--latent-sizes", help="Latent sizes of Table 4 (default 100,500,1000,2000; '' to skip)."),
    ablations: bool = typer.Option(True, "--ablations/--no-ablations", help="Train the sweep model's ablation presets."),
    likelihood_models: Optional[str] = typer.Option(None, "--likelihood-models", help="Models of Table 5 (default vae,gvae,avb)."),
    iwae_k: Optional[int] = typer.Option(None, "--iwae-k", help="Importance samples for the log-likelihood."),
    iwae_images: Optional[int] = typer.Option(None, "--iwae-images", help="Evaluation images the likelihood is averaged over."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:N or mps."),
    quick: bool = typer.Option(False, "--quick", help="Every part of the protocol on tiny budgets (a smoke check, minutes)."),
    out: Path = typer.Option(Path("report"), "--out", "-o", help="Report folder (a rerun reuses its finished runs)."),
) -> None:
    """Train the paper's models over several seeds, a shared lr sweep, the latent sweep and the
    ablations; write Tables 3-5 with 95 % intervals, the claims' verdicts, curves and sample grids."""
    import sys

    from genzoo.trainer import resolve_device
    from genzoo_metrics.report import ReportBuilder, ReportSettings, quick_settings

    given: dict[str, Any] = {
        "models": _names(models) if models is not None else None,
        "steps": steps,
        "seeds": _numbers(seeds, int, "--seeds") if seeds is not None else None,
        "sweep_lrs": _numbers(lrs, float, "--lrs") if lrs is not None else None,
        "holdout": holdout, "n": n, "pairs": pairs, "curve_points": curve_points, "curve_n": curve_n,
        "eval_seeds": eval_seeds,
        "latent_sizes": _numbers(latent_sizes, int, "--latent-sizes") if latent_sizes is not None else None,
        "likelihood_models": _names(likelihood_models) if likelihood_models is not None else None,
        "iwae_k": iwae_k, "iwae_images": iwae_images,
    }  # fmt: skip
    given = {k: v for k, v in given.items() if v is not None}
    common = {
        "dataset": dataset, "data_dir": data_dir, "test_dataset": test_dataset, "test_data_dir": test_data_dir,
        "batch_size": batch_size, "sweep_model": sweep_model, "ablations": ablations,
        "device": str(resolve_device(device)),
    }  # fmt: skip
    settings = quick_settings(out, **common, **given) if quick else ReportSettings(out=out, **common, **given)
    page = ReportBuilder(settings, log=lambda text: print(text, file=sys.stderr)).build()
    print(page.read_text())
    print(f"wrote {page.parent}", file=sys.stderr)
