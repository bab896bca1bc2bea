"""``genzoo runs``: list and compare run folders as a table or ``--json``."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from genzoo import console

MAX_SCORE_COLUMNS = 4  # the scores most runs have; --json has all of them


def register(app: typer.Typer) -> None:
    @app.command("runs")
    def runs_command(
        paths: list[Path] = typer.Argument(None, help="Run folders or folders holding runs (default: runs/)."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    ) -> None:
        """List and compare run folders: model, data, progress, last losses and `genzoo eval` scores."""
        from rich import box
        from rich.text import Text
        from rich.table import Table

        from genzoo.cli.evaluate import format_value
        from genzoo.runs import find_runs, summarise

        rows = [summarise(run) for run in find_runs(paths or [Path("runs")])]
        if as_json:
            console.print_json(rows)
            return
        if not rows:
            console.stdout.print(f"no run folders in {', '.join(str(p) for p in paths or [Path('runs')])}")
            return
        counts: dict[str, int] = {}
        for row in rows:
            for metric in row["eval"]:
                counts[metric] = counts.get(metric, 0) + 1
        scores = sorted(counts, key=lambda m: (-counts[m], m))[:MAX_SCORE_COLUMNS]
        table = Table(box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
        for column in ("run", "model", "dataset", "step", "updated", "img/s", "losses", *scores):
            table.add_column(column, no_wrap=True, justify="right" if column in ("step", "img/s", *scores) else "left")
        for row in rows:
            step = f"{row['step']}/{row['steps']}" if row["steps"] else str(row["step"])
            updated = time.strftime("%Y-%m-%d %H:%M", time.localtime(row["updated"])) if row["updated"] else ""
            losses = " ".join(f"{k}={v:.3g}" for k, v in row["losses"].items())
            speed = f"{row['images_per_s']:.0f}" if row["images_per_s"] is not None else ""
            cells = [row["run"], row["model"], str(row["dataset"]), step + ("" if row["finished"] else " (open)"),
                     updated, speed, losses, *[format_value(row["eval"][m]) if m in row["eval"] else "" for m in scores]]
            table.add_row(*(Text(cell) for cell in cells))  # Text: a "[/]" in a run's name is not markup
        console.stdout.print(table)
