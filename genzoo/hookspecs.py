"""The hooks a genzoo plugin can implement.

A plugin is a module registered under the ``genzoo`` entry-point group. It implements any of
these functions, decorated with :data:`genzoo.hookimpl`. Registration hooks return (or yield) spec
records; they must stay cheap: import nothing heavy at module level, and name factories as
``"package.module:attr"`` strings so their code is imported only on first use.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import typer

    from genzoo.specs import DatasetSpec, LossSpec, MetricSpec, ModelSpec

PROJECT_NAME = "genzoo"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def genzoo_models() -> Iterable[ModelSpec]:
    """Return the :class:`~genzoo.specs.ModelSpec` records this plugin provides."""


@hookspec
def genzoo_losses() -> Iterable[LossSpec]:
    """Return the :class:`~genzoo.specs.LossSpec` records this plugin provides."""


@hookspec
def genzoo_datasets() -> Iterable[DatasetSpec]:
    """Return the :class:`~genzoo.specs.DatasetSpec` records this plugin provides."""


@hookspec
def genzoo_metrics() -> Iterable[MetricSpec]:
    """Return the :class:`~genzoo.specs.MetricSpec` records this plugin provides."""


@hookspec
def genzoo_commands(app: typer.Typer, groups: dict[str, Any]) -> None:
    """Add commands to the CLI: ``app`` is the root Typer app, ``groups`` its sub-apps by name
    (``groups["data"]`` is ``genzoo data``). Import heavy code inside the command functions."""


@hookspec
def genzoo_loggers() -> dict[str, str]:
    """Experiment trackers for ``genzoo run --log NAME``, as ``{name: "package.module:factory"}``. The
    factory is called as ``factory(run_dir, config)`` and returns a :class:`genzoo.tracking.RunLogger`."""


SPEC_HOOKS = {
    "genzoo_models": "model",
    "genzoo_losses": "loss",
    "genzoo_datasets": "dataset",
    "genzoo_metrics": "metric",
}
