"""``genzoo eval CKPT``: score a checkpoint with the installed metrics against held-out data."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer

from genzoo import console


def format_value(value: float | None) -> str:
    """Four significant digits, scientific for very small or large magnitudes."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "nan"
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-3 or magnitude >= 1e5):
        return f"{value:.3e}"
    return f"{value:.4g}"


def details(result: Any) -> str:
    """The qualifying values of a result (``std``, ``real``, ``floor``, ...) as one short string.

    Numbered keys (``share.0``, ``share.1``, ...) are folded into one ``share=[a b ...]`` entry so a
    histogram stays one item, in the position of its first element.
    """
    entries: dict[str, list[str]] = {}
    for key, value in result.values.items():
        if key == result.name:
            continue
        short = key.removeprefix(result.name + ".")
        stem, _, index = short.rpartition(".")
        if stem and index.isdigit():
            entries.setdefault(f"{stem}[]", []).append(format_value(value))
        else:
            entries[short] = [format_value(value)]
    parts = []
    for key, values in entries.items():
        if key.endswith("[]"):
            parts.append(f"{key[:-2]}=[{' '.join(values)}]")
        else:
            parts.append(f"{key}={values[0]}")
    return ", ".join(parts)


def print_table(report: Any) -> None:
    """A Rich table of an :class:`~genzoo.evaluation.EvalReport` on stdout."""
    from rich.table import Table

    table = Table(
        title=f"{report.model} on {report.dataset}/{report.split} (n={report.n_real} real, "
        f"{report.n_generated} generated, seed {report.seed})"
        + (f" with {', '.join(report.model_overrides)}" if report.model_overrides else ""),
        title_justify="left",
    )
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")
    table.add_column("better")
    table.add_column("details")
    table.add_column("s", justify="right")
    for result in report.results:
        direction = {True: "higher", False: "lower"}.get(result.higher_is_better, "")
        if result.higher_is_better is None and any(key.endswith(".real") for key in result.values):
            direction = "vs real"
        if result.status == "ok":
            table.add_row(result.name, format_value(result.value), direction, details(result), f"{result.seconds:.1f}")
        else:
            table.add_row(result.name, result.status, direction, result.reason, "")
    console.stdout.print(table)
    for key, note in report.notes.items():
        console.stdout.print(f"{key}: {note}")


def _save_into_run(model_path: Path, report: dict[str, Any]) -> Path | None:
    """Write ``eval.json`` beside the checkpoint when it is a run's (a folder with ``metrics.jsonl``).

    Published and exported model folders have no ``metrics.jsonl`` and are never written to (their
    files are checksummed in a registry index).
    """
    import json

    from genzoo.checkpoint import atomic_write

    run = model_path.parent
    if not (run / "metrics.jsonl").is_file():
        return None
    if report.get("model_overrides"):  # the run's eval.json (and its card) describe the file as shipped
        console.stderr.print("[dim]not written into the run: --model-set scores the model with other settings[/dim]")
        return None
    text = json.dumps(report, indent=2, default=str) + "\n"
    written = atomic_write(run / "eval.json", lambda tmp: tmp.write_text(text))
    console.stderr.print(f"[dim]wrote {written}[/dim]")
    return written


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def eval_command(
        checkpoint: Path = typer.Argument(..., help="A model.safetensors file or a run folder holding one."),
        dataset: str = typer.Option(
            None, "--dataset", "-d", help="Score against this data set (default: the checkpoint's)."
        ),
        data_dir: Path = typer.Option(None, "--data-dir", help="Where the data set's files are."),
        metrics: str = typer.Option("all", "--metrics", "-m", help="Comma-separated metric names, or 'all'."),
        n: int = typer.Option(
            1000, "-n", help="Held-out images to compare with as many samples (at most the eval split's size)."
        ),
        seed: int = typer.Option(0, "--seed", help="Seed of the samples, pairs and subsets."),
        device: str = typer.Option("auto", "--device", help="auto (default), cpu, cuda, cuda:N or mps."),
        overrides: list[str] = typer.Option(None, "--set", help="Metric config: METRIC.key=value (repeatable)."),
        model_overrides: list[str] = typer.Option(
            None, "--model-set", help="Change a sampling setting for this score, e.g. refine_steps=0 (repeatable; "
            "`genzoo info NAME` marks them; the scores are then not written into the run)."
        ),
        as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
        save: bool = typer.Option(
            True, "--save/--no-save", help="Write eval.json into the run folder (when CHECKPOINT is a run)."
        ),
    ) -> None:
        """Score a checkpoint against the data set's held-out split (never its training images).

        The scores of a run folder are also written to RUN/eval.json, which `genzoo runs` shows and
        `genzoo export` / `genzoo push` put on the model card."""
        from genzoo.cli.training import resolve_checkpoint_path
        from genzoo.errors import ConfigError
        from genzoo.config import apply_overrides
        from genzoo.evaluation import evaluate_checkpoint, parse_metric_list
        from genzoo.registry import get_registry
        from genzoo.trainer import resolve_device

        registry = get_registry()
        names = parse_metric_list(metrics, registry.names("metric"))
        configs = apply_overrides({}, overrides or [])
        unused = sorted(set(configs) - set(names)) if configs else []
        unused = [key for key in unused if key not in {registry.get("metric", name).name for name in names}]
        if unused:
            raise ConfigError(
                f"--set {unused[0]}.…: '{unused[0]}' is not one of the metrics being computed ({', '.join(names)})"
            )
        path = resolve_checkpoint_path(str(checkpoint))

        def progress(name: str) -> None:
            console.stderr.print(f"[dim]computing {name}...[/dim]")

        report = evaluate_checkpoint(
            path,
            names,
            dataset=dataset,
            data_dir=data_dir,
            n=n,
            seed=seed,
            device=str(resolve_device(device)),
            configs=configs,
            registry=registry,
            progress=progress,
            model_overrides=model_overrides or (),
        )
        if save:
            _save_into_run(path, report.to_dict())
        if as_json:
            console.print_json(report.to_dict())
        else:
            print_table(report)
        if any(r.status == "error" for r in report.results):
            raise typer.Exit(1)
