"""``genzoo list``, ``genzoo plugins`` and ``genzoo info``: what is installed and how to use it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from genzoo import console
from genzoo.config import describe_fields, sampling_settings
from genzoo.errors import CheckpointError, UnknownNameError

PLURALS = {"models": "model", "losses": "loss", "datasets": "dataset", "metrics": "metric"}
KIND_FIELDS = {  # kind-specific spec fields shown by `genzoo info`
    "model": ("default_steps", "presets"),
    "loss": ("role",),
    "dataset": ("splits", "eval_split", "license", "citation", "obtain"),
    "metric": ("higher_is_better", "requires"),
}


def _registry() -> Any:
    from genzoo.registry import get_registry

    return get_registry()


def _provider(entry: Any) -> str:
    dist = f"{entry.plugin.distribution} {entry.plugin.version}".strip()
    return f"{entry.plugin.name} ({dist})" if dist else entry.plugin.name


def _entry_json(kind: str, name: str, entry: Any) -> dict[str, Any]:
    data = {
        "kind": kind,
        "name": name,
        "plugin": entry.plugin.name,
        "distribution": entry.plugin.distribution,
        "version": entry.plugin.version,
        "summary": entry.spec.summary,
        "tags": list(entry.spec.tags),
    }
    for field_name in KIND_FIELDS.get(kind, ()):
        value = getattr(entry.spec, field_name)
        data[field_name] = list(value) if isinstance(value, tuple) else dict(value) if isinstance(value, Mapping) else value
    return data


def _show_train_settings(as_json: bool) -> None:
    """The trainer's settings: ``--set train.KEY=VALUE`` or the ``[train]`` table of a config file."""
    from genzoo.runconfig import TrainConfig

    rows = [{"field": f, "type": t, "default": d, "doc": doc} for f, t, d, doc in describe_fields(TrainConfig)]
    if as_json:
        console.print_json(rows)
        return
    table = Table(title="train settings (override with --set train.KEY=VALUE or a \\[train] table in --config)",
                  title_justify="left")
    for column in ("field", "type", "default", "doc"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(f"train.{row['field']}", row["type"], row["default"], row["doc"])
    console.stdout.print(table)


def register(app: typer.Typer, get_host: Callable[[], Any]) -> None:
    @app.command("list")
    def list_components(
        kind: str = typer.Argument(None, help="models, datasets, losses or metrics (default: all)."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    ) -> None:
        """List the installed models, data sets, losses and metrics."""
        get_host()
        registry = _registry()
        if kind is not None and kind not in PLURALS and kind not in PLURALS.values():
            raise UnknownNameError(f"unknown kind '{kind}': use one of {', '.join(PLURALS)}")
        kinds = [PLURALS.get(kind, kind)] if kind else list(PLURALS.values())
        for line in registry.shadow_warnings(kinds):
            console.stderr.print(line, markup=False, highlight=False)
        rows = [
            _entry_json(k, name, entry)
            for k in kinds
            for name, entry in zip(registry.names(k), registry.entries(k))
        ]
        if as_json:
            console.print_json(rows)
            return
        for k in kinds:
            plural = next(p for p, singular in PLURALS.items() if singular == k)
            table = Table(title=plural, title_justify="left")
            for column in ("name", "provider", "summary"):
                table.add_column(column, overflow="fold")
            for name, entry in zip(registry.names(k), registry.entries(k)):
                table.add_row(name, _provider(entry), entry.spec.summary)
            console.stdout.print(table)

    @app.command("plugins")
    def list_plugins(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table.")) -> None:
        """Show every plugin with its distribution, version, status and error."""
        records = get_host().plugins()
        rows = [
            {
                "name": r.name,
                "module": r.value,
                "distribution": r.distribution,
                "version": r.version,
                "status": r.status,
                "error": r.error,
                "provides": {kind: [s.name for s in specs] for kind, specs in r.specs.items()},
            }
            for r in records
        ]
        if as_json:
            console.print_json(rows)
            return
        table = Table(title="plugins", title_justify="left")
        for column in ("name", "distribution", "version", "status", "provides", "error"):
            table.add_column(column, overflow="fold")
        styles = {"ok": "green", "failed": "red", "disabled": "yellow"}
        for row in rows:
            plural = {singular: p for p, singular in PLURALS.items()}
            provides = ", ".join(f"{len(v)} {plural.get(k, k)}" for k, v in row["provides"].items())
            status = f"[{styles[row['status']]}]{row['status']}[/]"
            table.add_row(row["name"], row["distribution"], row["version"], status, provides, row["error"])
        console.stdout.print(table)

    @app.command("info")
    def info(
        name: str = typer.Argument(..., help="A component name (gvae, mnist5k, ...) or a checkpoint file."),
        kind: str = typer.Option(None, "--kind", help="Restrict to one kind when a name is used by several."),
        as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    ) -> None:
        """Describe a component (provider, summary, config fields), a checkpoint, or `train` (the train.* settings)."""
        if name == "train":
            _show_train_settings(as_json)
            return
        if Path(name).suffix == ".safetensors" or Path(name).is_file() or Path(name, "model.safetensors").is_file():
            from genzoo.cli.training import show_checkpoint_info

            show_checkpoint_info(Path(name), as_json)
            return
        get_host()
        registry = _registry()
        kinds = [PLURALS.get(kind, kind)] if kind else list(PLURALS.values())
        found: list[tuple[str, Any]] = []
        errors: list[Exception] = []
        for k in kinds:
            try:
                found.append((k, registry.resolve(k, name)))
            except UnknownNameError as exc:
                errors.append(exc)
        if not found:
            if len(kinds) == 1:
                raise errors[0]
            from genzoo.cli.training import show_checkpoint_info
            from genzoo.errors import CheckpointError
            from genzoo.hub import RegistryError
            from genzoo.sharing import resolve_name

            unknown = UnknownNameError(
                f"no model, data set, loss, metric or published checkpoint is called '{name}' (try `genzoo list`)"
            )
            try:  # a published checkpoint's name, e.g. gvae-mnist5k
                path = resolve_name(name)
            except UnknownNameError:
                raise unknown from None
            except RegistryError:  # a refusal or an absent registry: the same line `genzoo sample NAME` gives
                raise
            except CheckpointError:  # not a registry name at all
                raise unknown from None
            show_checkpoint_info(path, as_json)
            return
        described = []
        for k, entry in found:
            data = _entry_json(k, entry.name, entry)
            data["factory"] = entry.spec.factory
            config_class = registry.make_config(entry.spec).__class__ if entry.spec.config else None
            data["config"] = [
                {"field": f, "type": t, "default": d, "doc": doc} for f, t, d, doc in describe_fields(config_class)
            ]
            if k == "model":
                data["sampling_settings"] = sampling_settings(config_class)
            described.append(data)
        if as_json:
            console.print_json(described if len(described) > 1 else described[0])
            return
        for data in described:
            console.stdout.print(f"[bold]{data['name']}[/] ({data['kind']}), provided by plugin "
                                 f"{data['plugin']} ({data['distribution']} {data['version']})")
            console.stdout.print(f"  {data['summary']}")
            for field_name in KIND_FIELDS.get(data["kind"], ()):
                console.stdout.print(f"  {field_name}: {escape(str(data[field_name]))}")
            if data["tags"]:
                console.stdout.print(f"  tags: {', '.join(data['tags'])}")
            if data["config"]:
                table = Table(title="config (override with --set key=value)", title_justify="left")
                for column in ("field", "type", "default", "doc"):
                    table.add_column(column, overflow="fold")
                for row in data["config"]:  # escaped: Rich would eat "[float, float]" as markup
                    table.add_row(*(escape(row[key]) for key in ("field", "type", "default", "doc")))
                console.stdout.print(table)
                if data.get("sampling_settings"):
                    console.stdout.print("  sampling settings (a trained file takes them: genzoo sample --set, "
                                         f"genzoo eval --model-set): {', '.join(data['sampling_settings'])}")
            else:
                console.stdout.print("  no configuration")
