"""``genzoo data prepare`` and ``genzoo data synth-ct`` (added through ``genzoo_commands``).

Heavy imports (numpy, pydicom) happen inside the command bodies so ``genzoo --help`` stays fast.
Results go to stdout (``--json`` for machines); progress and warnings go to stderr.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

PREPARABLE = ("pancreas",)


def register(data_app: typer.Typer) -> None:
    """Attach the commands to the ``genzoo data`` sub-app."""

    @data_app.command("prepare")
    def prepare_command(
        dataset: str = typer.Argument(..., help="Data set to prepare (pancreas)."),
        source: Path = typer.Argument(..., help="Folder of the downloaded DICOM collection."),
        mode: str = typer.Option("2d", "--mode", help="2d: axial slices; 3d: volumes."),
        size: int = typer.Option(64, "--size", help="Edge length: 64 or 128 (2D), 32 or 64 (3D)."),
        workers: int = typer.Option(0, "--workers", help="Worker processes (0: automatic)."),
        window_width: float = typer.Option(400.0, "--window-width", help="HU window width."),
        window_level: float = typer.Option(40.0, "--window-level", help="HU window level (centre)."),
        body_only: bool = typer.Option(False, "--body-only", help="2D: keep slices mostly inside the body."),
        cache_dir: str = typer.Option("", "--cache-dir", help="Cache root (default $GENZOO_CACHE_DIR/pancreas)."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    ) -> None:
        """Preprocess a DICOM collection once into a memory-mappable cache (rebuilds only what changed)."""
        from genzoo.config import build
        from genzoo.errors import DataError
        from genzoo_datasets.configs import PancreasConfig
        from genzoo_datasets.pancreas.prepare import prepare

        if dataset not in PREPARABLE:
            raise DataError(f"`genzoo data prepare` supports {', '.join(PREPARABLE)}; {dataset!r} needs no preparation")
        values: dict[str, Any] = {
            "mode": mode, "size": size, "workers": workers, "window_width": window_width,
            "window_level": window_level, "body_only": body_only, "cache_dir": cache_dir,
        }
        config = build(PancreasConfig, values)
        result = prepare(source, config, progress=True)
        summary = summarise(result)
        if as_json:
            print(json.dumps(summary, indent=1))
        else:
            print(f"cache:    {summary['cache']}")
            for split in ("train", "test"):
                info = summary["splits"][split]
                print(f"{split + ':':<9} {info['samples']} samples of {info['shape']} from {info['patients']} patients")
            print(f"series:   {summary['series']} ({summary['series_built']} built, {summary['series_reused']} reused)")
            print(f"skipped:  {summary['skipped']} files")
            print(f"use it:   genzoo run MODEL --dataset pancreas --data-dir {summary['cache']}")

    @data_app.command("synth-ct")
    def synth_ct_command(
        out_arg: Path = typer.Argument(None, metavar="[OUT]", help="Folder to write the collection into (or -o/--out)."),
        out: Path = typer.Option(None, "--out", "-o", help="Folder to write the collection into."),
        patients: int = typer.Option(4, "--patients", help="Number of patients (one series each)."),
        size: int = typer.Option(64, "--size", help="Rows and columns per slice."),
        slices: int = typer.Option(24, "--slices", help="Slices per series."),
        slice_mm: float = typer.Option(5.0, "--slice-mm", help="Slice spacing in mm."),
        seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same files)."),
        layout: str = typer.Option("nbia", "--layout", help="nbia (current NBIA Data Retriever) or legacy."),
        as_json: bool = typer.Option(False, "--json", help="Print what was written as JSON."),
    ) -> None:
        """Write a synthetic abdominal CT phantom collection as real DICOM in the TCIA layout."""
        from genzoo.cli.root import output_path
        from genzoo_datasets.pancreas.synth import write_collection

        out = output_path(out_arg, out, "the output folder")
        folders = write_collection(out, patients, size=size, slices=slices, slice_mm=slice_mm, seed=seed, layout=layout)
        if as_json:
            print(json.dumps({"folder": str(out), "patients": len(folders), "slices": slices, "size": size,
                              "series": [str(f) for f in folders]}, indent=2))
            return
        print(f"wrote {len(folders)} patients x {slices} slices of {size}x{size} under {out}")
        print(f"next:  genzoo data prepare pancreas {out}")


def summarise(result: Any) -> dict[str, Any]:
    """JSON-ready summary of a :class:`~genzoo_datasets.pancreas.prepare.PrepareResult`."""
    manifest = result.manifest
    return {
        "cache": str(result.folder),
        "splits": {
            split: {"samples": info["count"], "shape": info["shape"], "patients": len(info["patients"])}
            for split, info in manifest["splits"].items()
        },
        "series": len(manifest["series"]),
        "series_built": result.series_built,
        "series_reused": result.series_reused,
        "headers_read": result.headers_read,
        "skipped": len([s for s in manifest["skipped"] if s["category"] != "not-dicom"]),
    }
