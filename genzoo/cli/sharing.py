"""``genzoo export``, ``genzoo push``, ``genzoo pull`` and ``genzoo registry list``."""

from __future__ import annotations

from pathlib import Path

import typer

from genzoo import console
from genzoo.cli.root import GenzooGroup

MAX_METRIC_COLUMNS = 2  # the table shows the metrics most entries have; --json has every metric and the checksums
REGISTRY_HELP = "Registry folder, file:// or http(s):// URL (default: $GENZOO_REGISTRY, else the project's registry/)."


def register(app: typer.Typer) -> None:
    @app.command("export")
    def export_command(
        run_dir: Path = typer.Argument(..., help="A finished run folder (or a model.safetensors file)."),
        out_arg: Path = typer.Argument(None, metavar="[OUT]", help="New folder (or give it as -o/--out)."),
        out: Path = typer.Option(None, "--out", "-o", help="New folder for model.safetensors, config.json and README.md."),
        license_id: str = typer.Option("apache-2.0", "--license", help="License of the weights, for the model card."),
        as_json: bool = typer.Option(False, "--json", help="Print the folder and its files as JSON."),
    ) -> None:
        """Write a shareable model folder (Hugging Face layout, with a model card) from a run."""
        from genzoo.cli.root import output_path
        from genzoo.hub import export_run

        folder = export_run(run_dir, output_path(out_arg, out, "the export folder"), license_id=license_id)
        files = sorted(p.name for p in folder.iterdir())
        if as_json:
            console.print_json({"source": str(run_dir), "folder": str(folder), "files": files})
        else:
            console.stdout.print(f"exported {run_dir} -> {folder} ({', '.join(files)})")

    @app.command("push")
    def push_command(
        source: Path = typer.Argument(..., help="A finished run folder, an exported model folder or a .safetensors file."),
        registry: str = typer.Option(..., "--registry", "-r", help="Registry folder (local or shared file system)."),
        name: str = typer.Option(..., "--name", help="Name to publish under, e.g. gvae-mnist5k."),
        tag: str = typer.Option(None, "--tag", help="Version tag (default: the next vN); never overwrites."),
        license_id: str = typer.Option(None, "--license", help="License of the weights, for the model card."),
        as_json: bool = typer.Option(False, "--json", help="Print the new index entry as JSON."),
    ) -> None:
        """Publish a new version of a checkpoint into a registry folder."""
        from genzoo.hub import push

        entry = push(source, registry, name, tag=tag, license_id=license_id)
        if as_json:
            console.print_json(entry.to_dict())
        else:
            console.stdout.print(f"published {entry.ref} ({entry.size} bytes, sha256 {entry.sha256[:12]}...) in {registry}")

    @app.command("pull")
    def pull_command(
        reference: str = typer.Argument(..., help="NAME or NAME@version."),
        registry: str = typer.Option(None, "--registry", "-r", help=REGISTRY_HELP),
        as_json: bool = typer.Option(False, "--json", help="Print the path and index entry as JSON."),
    ) -> None:
        """Download a checkpoint into the local cache, verifying its size, sha256 and format."""
        from genzoo.hub import pull

        path, entry = pull(reference, registry)
        if as_json:
            console.print_json({**entry.to_dict(), "file": str(path), "folder": str(path.parent)})
        else:
            console.stdout.print(f"{entry.ref} -> {path}")

    registry_app = typer.Typer(cls=GenzooGroup, help="Inspect checkpoint registries.", no_args_is_help=True)

    @registry_app.command("list")
    def list_command(
        registry: str = typer.Option(None, "--registry", "-r", help=REGISTRY_HELP),
        as_json: bool = typer.Option(False, "--json", help="Print the index entries as JSON."),
    ) -> None:
        """List the checkpoints a registry holds, every version."""
        from genzoo.hub import list_entries

        index = list_entries(registry)
        if as_json:
            console.print_json({"registry": index.location, "entries": [e.to_dict() for e in index.entries]})
            return
        if not index.entries:
            console.stdout.print(f"registry {index.location} holds no checkpoints")
            return
        from rich.table import Table

        from rich import box

        table = Table(title=f"registry {index.location}", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
        counts: dict[str, int] = {}
        for e in index.entries:
            for metric in e.metrics:
                counts[metric] = counts.get(metric, 0) + 1
        shown = sorted(counts, key=lambda m: (-counts[m], m))[:MAX_METRIC_COLUMNS]
        for column in ("name", "version", "model", "dataset", "step", "size", *shown):
            table.add_column(column, justify="left" if column in ("name", "version", "model", "dataset") else "right",
                             no_wrap=True)
        for e in index.entries:
            size = _size(e.size + sum(f.size for f in e.files.values()))
            values = [f"{e.metrics[m]:.4g}" if m in e.metrics else "" for m in shown]
            table.add_row(e.name, e.version, e.model, e.dataset, str(e.step) if e.kind == "model" else "", size, *values)
        console.stdout.print(table)

    app.add_typer(registry_app, name="registry")


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)
