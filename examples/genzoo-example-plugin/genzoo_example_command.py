"""Command ``genzoo data export-png DATASET OUT``: write images of any data set as PNG files.

Its output is a folder the ``png-folder`` data set reads, so the two together show the round trip.
"""

from __future__ import annotations

from pathlib import Path

import typer


def register(data_app: typer.Typer) -> None:
    @data_app.command("export-png")
    def export_png(
        dataset: str = typer.Argument(..., help="Data set to export (see `genzoo list datasets`)."),
        out: Path = typer.Argument(..., help="Folder to write image-NNNNN.png files into."),
        n: int = typer.Option(20, "-n", help="Number of images."),
        split: str = typer.Option("train", "--split", help="Which split."),
        data_dir: Path = typer.Option(None, "--data-dir", help="Where the data set's files are."),
    ) -> None:
        """Write the first N images of a data set split as grayscale PNG files."""
        from genzoo import console
        from genzoo.errors import ConfigError
        from genzoo.images import save_grid
        from genzoo.registry import get_registry

        if n < 1:
            raise ConfigError(f"-n must be at least 1, got {n}")
        images = get_registry().build_dataset(dataset, None, split, data_dir)
        count = min(n, len(images))
        for i in range(count):
            save_grid(images[i][None], out / f"image-{i:05d}.png", nrow=1)
        console.stdout.print(f"wrote {count} images of {dataset}/{split} to {out}")
