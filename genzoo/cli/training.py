"""``genzoo run`` (train or resume) and ``genzoo sample`` / ``genzoo info CKPT`` (use a checkpoint)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import typer

from genzoo import console
from genzoo.errors import ConfigError

def _default_run_dir(model: str, dataset: str) -> Path:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError("under torchrun every rank must write to the same folder: pass --out DIR")
    return Path("runs") / f"{model.replace(':', '-')}-{dataset.replace(':', '-')}-{time.strftime('%Y%m%d-%H%M%S')}"


def _saved_run_config(run_dir: Path, model: str) -> dict:
    """The config of the run a folder holds; a run of another model is refused in one line."""
    from genzoo.trainer import CONFIG_FILENAME

    from genzoo.runfolder import read_run_config

    saved_path = run_dir / CONFIG_FILENAME
    saved = read_run_config(run_dir)  # bounded: size, depth and type, one line when damaged
    held = saved.get("model")
    if held is not None and not isinstance(held, str):
        raise ConfigError(f"{saved_path}: 'model' is not a model name; cannot resume {run_dir}")
    for table in ("train", "model_config", "data_config"):
        if table in saved and not isinstance(saved[table], dict):
            raise ConfigError(f"{saved_path}: '{table}' is not a table; cannot resume {run_dir}")
    if held is not None and held != model and held.split(":")[-1] != model.split(":")[-1]:
        raise ConfigError(
            f"{run_dir} holds a run of {held}, not {model}: pass another --out, or continue it with "
            f"`genzoo run {held} --resume {run_dir}`"
        )
    return saved


def resolve_checkpoint_path(reference: str) -> Path:
    """A checkpoint file, a run or model folder holding ``model.safetensors``, or a registry name."""
    from genzoo.sharing import resolve_checkpoint_path as resolve

    return resolve(reference)


def show_checkpoint_info(reference: Path, as_json: bool) -> None:
    from genzoo.checkpoint import read_header, read_metadata

    path = resolve_checkpoint_path(str(reference))
    meta = read_metadata(path)
    header, _ = read_header(path)
    meta["parameters"] = sum(
        int(_prod(v["shape"])) for v in header.values() if isinstance(v, dict) and "shape" in v
    )
    meta["file"] = str(path)
    meta["bytes"] = path.stat().st_size
    if as_json:
        console.print_json(meta)
        return
    from rich.table import Table
    from rich.text import Text

    from genzoo.safejson import printable

    table = Table(title=Text(f"checkpoint {printable(path, 500)}"), title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in meta.items():  # metadata is anyone's text: no control characters, no Rich markup
        table.add_row(Text(printable(key, 60)), Text(printable(value if isinstance(value, str) else json.dumps(value), 100_000)))
    console.stdout.print(table)


def write_sample_folder(images: object, out_dir: Path) -> None:
    """One PNG per sample and ``samples.safetensors``, staged beside ``out_dir`` so that a failure
    (a full disk) leaves no partial set of files behind."""
    import shutil
    import uuid

    from genzoo.checkpoint import atomic_write
    from genzoo.images import save_grid
    from genzoo.tensorfile import write_safetensors

    if out_dir.exists() and not out_dir.is_dir():
        raise ConfigError(f"--out-dir {out_dir} is a file; choose a folder")
    staging = out_dir.parent / f".{out_dir.name}.partial-{uuid.uuid4().hex[:8]}"
    try:
        for i, image in enumerate(images):
            save_grid(image[None], staging / f"sample-{i:05d}.png", nrow=1)
        atomic_write(staging / "samples.safetensors",
                     lambda tmp: write_safetensors(tmp, {"samples": images.contiguous()}, {}))
        out_dir.mkdir(parents=True, exist_ok=True)
        for item in sorted(staging.iterdir()):
            os.replace(item, out_dir / item.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _prod(shape: list[int]) -> int:
    result = 1
    for d in shape:
        result *= int(d)
    return result


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        model: str = typer.Argument(..., help="Model to train (see `genzoo list models`)."),
        dataset: str = typer.Option(None, "--dataset", "-d", help="Data set (default: the embedded mnist5k)."),
        data_dir: Path = typer.Option(None, "--data-dir", help="Where the data set's files are."),
        steps: int = typer.Option(None, "--steps", help="Training iterations."),
        epochs: float = typer.Option(None, "--epochs", help="Passes over the data (instead of --steps)."),
        batch_size: int = typer.Option(None, "--batch-size", "-b", help="Images per batch per process."),
        out: Path = typer.Option(None, "--out", "-o", help="Run folder (default: runs/MODEL-DATASET-TIME)."),
        seed: int = typer.Option(None, "--seed", help="Random seed."),
        config_file: Path = typer.Option(
            None, "--config", help="TOML file with \\[train], \\[model_config] and \\[data_config] tables. Also a run's config.json."
        ),
        overrides: list[str] = typer.Option(
            None, "--set", help="Override a config value: key=value (repeatable); train.x and data.x for those "
            "settings (`genzoo info train` lists the train.* ones: log, sample and checkpoint intervals, keep_last...)."
        ),
        preset: str = typer.Option(None, "--preset", help="A named set of the model's settings, e.g. paper (see genzoo info MODEL)."),
        device: str = typer.Option(None, "--device", help="auto (default), cpu, cuda, cuda:N or mps."),
        precision: str = typer.Option(None, "--precision", help="fp32, bf16 or fp16."),
        compile_model: bool = typer.Option(None, "--compile/--no-compile", help="torch.compile the networks."),
        workers: int = typer.Option(None, "--workers", help="DataLoader worker processes."),
        resume: Path = typer.Option(None, "--resume", help="Continue the run in this folder."),
        log: list[str] = typer.Option(
            None, "--log", help="Also log to an experiment tracker: tensorboard, or one a plugin adds (repeatable)."
        ),
        progress: bool = typer.Option(
            True, "--progress/--no-progress",
            help="A live bar on a terminal, plain lines in a log file; --no-progress: plain lines always.",
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output at all."),
        print_config: bool = typer.Option(
            False, "--print-config", help="Print the resolved config as JSON (usable with --config) and exit."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Train a model (or resume a run) and write samples, curves and checkpoints."""
        from genzoo.runconfig import resolve_run_config
        from genzoo.trainer import Trainer, latest_checkpoint

        flags = {
            "dataset": dataset, "data_dir": data_dir, "steps": steps, "epochs": epochs,
            "batch_size": batch_size, "seed": seed, "device": device, "precision": precision,
            "compile": compile_model, "num_workers": workers,
        }
        run_dir = resume or out
        base = None
        if resume is not None and latest_checkpoint(resume) is None:
            raise ConfigError(f"--resume {resume}: no checkpoint found there (looked in {resume / 'checkpoints'})")
        if run_dir is not None and latest_checkpoint(run_dir) is not None:
            base = _saved_run_config(run_dir, model)  # the trainer says which checkpoint, once verified
        config = resolve_run_config(model=model, config_file=config_file, flags=flags, overrides=overrides or [], base=base)
        if print_config:
            console.print_json(config.to_dict())
            return
        run_dir = run_dir or _default_run_dir(config.model, config.dataset)
        loggers = []
        if log and os.environ.get("RANK", "0") == "0":
            from genzoo.registry import get_registry
            from genzoo.tracking import build_loggers, parse_logger_names

            loggers = build_loggers(parse_logger_names(log), run_dir, config.to_dict(), get_registry().host)
        mode = "none" if quiet else ("auto" if progress else "lines")
        result = Trainer(config, run_dir, progress=mode, loggers=loggers).fit()
        if os.environ.get("RANK", "0") != "0":
            return  # under torchrun, rank 0 reports
        summary = {
            "run_dir": str(result.run_dir),
            "step": result.step,
            "model": str(result.model_path),
            "samples": str(result.run_dir / "samples"),
            "loss_curves": str(result.run_dir / "loss_curves.png"),
        }
        if as_json:
            console.print_json(summary)
        else:
            console.stdout.print(f"trained {config.model} on {config.dataset} for {result.step} steps")
            console.stdout.print(f"  model:   {summary['model']}")
            console.stdout.print(f"  samples: {summary['samples']}")
            console.stdout.print(f"  curves:  {summary['loss_curves']}")

    @app.command("fit-prior")
    def fit_prior(
        checkpoint: str = typer.Argument(..., help="Checkpoint file, run folder or registry name."),
        out: Path = typer.Option(..., "--out", "-o", help="Write the checkpoint with its fitted prior here."),
        data_dir: Path = typer.Option(None, "--data-dir", help="Where the checkpoint's data set lives (if not embedded)."),
        device: str = typer.Option("auto", "--device", help="auto (default), cpu, cuda, cuda:N or mps."),
        overrides: list[str] = typer.Option(
            None, "--set", help="Change a setting of the prior first, e.g. sampling_prior.components=50 or "
            "sampling_prior.temperature=0.8 (repeatable; the networks' sizes cannot change)."
        ),
    ) -> None:
        """Fit a checkpoint's sampling prior to its training split and write a new checkpoint (for one
        written before the prior existed, or to refit it with other settings; a run fits it at every
        checkpoint by itself)."""
        from genzoo.checkpoint import load_model, save_model
        from genzoo.config import to_dict
        from genzoo.evaluation import fit_checkpoint_prior
        from genzoo.trainer import resolve_device

        path = resolve_checkpoint_path(checkpoint)
        if out.exists() and out.resolve() == path.resolve():
            raise ConfigError(f"--out {out} is the checkpoint itself; write the fitted one to a new file")
        model, meta = load_model(path, device=str(resolve_device(device)), overrides=overrides or (), refit_optional=True)
        images = fit_checkpoint_prior(model, meta, data_dir, source=str(path))
        save_model(out, model, {**meta, "config": to_dict(model.config)})
        console.stdout.print(f"fitted the sampling prior of {meta['model']} (step {meta['step']}) to {images} "
                             f"training images of {meta.get('dataset')} -> {out}")

    @app.command("sample")
    def sample(
        checkpoint: str = typer.Argument(..., help="Checkpoint file, run folder or registry name."),
        n: int = typer.Option(64, "-n", help="Number of samples."),
        output: Path = typer.Option(None, "--out", "-o", "--output", help="Write a PNG grid here (default samples.png)."),
        out_dir: Path = typer.Option(None, "--out-dir", help="Write one PNG per sample and samples.safetensors here."),
        seed: int = typer.Option(0, "--seed", help="Noise seed."),
        device: str = typer.Option("auto", "--device", help="auto (default), cpu, cuda, cuda:N or mps."),
        as_json: bool = typer.Option(False, "--json", help="Print what was written as JSON."),
        overrides: list[str] = typer.Option(
            None, "--set", help="Change a sampling setting for this draw, e.g. refine_steps=0 for wgan-gp's G(z) "
            "as trained (repeatable; `genzoo info NAME` marks them)."
        ),
    ) -> None:
        """Draw samples from a checkpoint's prior."""
        import torch

        from genzoo.checkpoint import load_model
        from genzoo.images import save_grid
        from genzoo.trainer import resolve_device

        from genzoo.checkpoint import read_metadata
        from genzoo.sizes import check_sample_count, check_seed

        if n < 1:
            raise ConfigError("-n must be at least 1")
        check_seed(seed)
        path = resolve_checkpoint_path(checkpoint)
        check_sample_count(n, read_metadata(path)["data_shape"])
        model, meta = load_model(path, device=str(resolve_device(device)), overrides=overrides or (), sampling_only=True)
        with torch.no_grad():
            images = model.sample(n, torch.Generator().manual_seed(seed)).float().cpu()
        if output is None and out_dir is None:
            output = Path("samples.png")
        written = []
        if output is not None:
            written.append(str(save_grid(images, output)))
        if out_dir is not None:
            write_sample_folder(images, out_dir)
            written.append(str(out_dir))
        if as_json:
            console.print_json({"model": meta["model"], "step": meta["step"], "checkpoint": str(path), "n": n,
                                "seed": seed, "overrides": meta.get("overrides", []),
                                "grid": str(output) if output is not None else None,
                                "folder": str(out_dir) if out_dir is not None else None})
        else:
            console.stdout.print(f"{n} samples of {meta['model']} (step {meta['step']}) -> {', '.join(written)}")
