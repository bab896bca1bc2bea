"""The ``genzoo report`` command (options only; the work is in :mod:`genzoo_metrics.report`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def report_command(
    models: str = typer.Option("gvae,vae,wgan-gp,alpha-gan,vae-gan", "--models", help="Models of Table 3."),
    dataset: str = typer.Option("mnist5k", "--dataset", "-d", help="Data set every model trains and is scored on."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", help="Where the data set's files are."),
    steps: int = typer.Option(2000, "--steps", help="Training iterations per model (the same budget for all)."),
    batch_size: int = typer.Option(64, "--batch-size", "-b"),
    seed: int = typer.Option(0, "--seed"),
    device: str = typer.Option("auto", "--device", help="auto (default), cpu, cuda, cuda:N or mps."),
    n: int = typer.Option(1000, "-n", help="Held-out images and generated samples per model."),
    pairs: int = typer.Option(1000, "--pairs", help="Random pairs for MS-SSIM."),
    checkpoint: list[str] = typer.Option(
        None,
        "--checkpoint",
        help="Use a trained model instead of training: NAME=PATH (repeatable; NAME as in the tables).",
    ),
    sweep_model: str = typer.Option("gvae", "--sweep-model", help="Model of the latent-size sweep (Table 4)."),
    latent_sizes: str = typer.Option("16,32,64,128", "--latent-sizes", help="Latent sizes of Table 4 ('' to skip)."),
    likelihood_models: str = typer.Option("vae,gvae", "--likelihood-models", help="Models of Table 5."),
    iwae_k: int = typer.Option(
        5000, "--iwae-k", help="Importance samples for the log-likelihood (Burda: 5000; on a CPU, 100-1000)."
    ),
    iwae_images: int = typer.Option(1000, "--iwae-images", help="Held-out images the likelihood is averaged over."),
    out: Path = typer.Option(Path("report"), "--out", "-o", help="Report folder (a rerun reuses its finished runs)."),
) -> None:
    """Train the paper's models with one budget and write Tables 3-5, sample grids and loss curves."""
    import sys

    from genzoo.errors import ConfigError
    from genzoo.trainer import resolve_device
    from genzoo_metrics.report import ReportBuilder, ReportSettings

    given = {}
    for item in checkpoint or []:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            raise ConfigError(
                f"--checkpoint {item!r}: expected NAME=PATH, for example gvae=runs/gvae/model.safetensors"
            )
        given[name.strip()] = path.strip()
    try:
        sizes = tuple(int(x) for x in _names(latent_sizes))
    except ValueError:
        raise ConfigError(f"--latent-sizes {latent_sizes!r}: expected integers like 16,32,64") from None
    settings = ReportSettings(
        out=out,
        models=_names(models),
        dataset=dataset,
        data_dir=data_dir,
        steps=steps,
        batch_size=batch_size,
        seed=seed,
        device=str(resolve_device(device)),
        n=n,
        pairs=pairs,
        checkpoints=given,
        sweep_model=sweep_model,
        latent_sizes=sizes,
        likelihood_models=_names(likelihood_models),
        iwae_k=iwae_k,
        iwae_images=iwae_images,
    )
    page = ReportBuilder(settings, log=lambda text: print(text, file=sys.stderr)).build()
    print(page.read_text())
    print(f"wrote {page.parent}", file=sys.stderr)
