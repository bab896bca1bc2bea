"""The plugin host: finds plugins through the ``genzoo`` entry-point group and isolates failures.

Each entry point is loaded on its own. A plugin that fails to import, implements a hook genzoo
does not know, raises inside a registration hook or yields a bad spec is marked ``failed``: all of
its registrations are rolled back, one warning line goes to stderr, and everything else keeps
working. So is a module whose ``genzoo_*`` functions lack ``@genzoo.hookimpl`` (pluggy would
silently ignore them), and a name in ``GENZOO_DISABLE_PLUGINS`` that matches no plugin is warned about. ``GENZOO_STRICT_PLUGINS=1`` re-raises instead (for plugin authors), and
``GENZOO_DISABLE_PLUGINS=a,b`` skips plugins by entry-point or distribution name.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from genzoo import hookspecs
from genzoo.errors import PluginError
from genzoo.specs import SPEC_TYPES, Spec, validate_spec

ENTRY_POINT_GROUP = "genzoo"
FIRST_PARTY_DISTRIBUTION = "genzoo"
STRICT_ENV = "GENZOO_STRICT_PLUGINS"
DISABLE_ENV = "GENZOO_DISABLE_PLUGINS"
_IMPL_ATTR = hookspecs.PROJECT_NAME + "_impl"  # set on functions by the genzoo hookimpl marker


@dataclass
class PluginRecord:
    """What the host knows about one plugin (one entry point)."""

    name: str
    value: str
    distribution: str
    version: str
    status: str = "ok"  # ok | failed | disabled
    error: str = ""
    specs: dict[str, list[Spec]] = field(default_factory=dict)

    @property
    def first_party(self) -> bool:
        """Shipped with genzoo itself (its names win over a third party's)."""
        return self.distribution == FIRST_PARTY_DISTRIBUTION

    def describe(self) -> str:
        dist = f"{self.distribution} {self.version}".strip()
        return f"plugin {self.name!r} ({dist})" if dist else f"plugin {self.name!r}"


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str) -> set[str]:
    return {item.strip() for item in os.environ.get(name, "").split(",") if item.strip()}


def _distribution_of(entry_point: Any) -> tuple[str, str]:
    dist = getattr(entry_point, "dist", None)
    if dist is None:
        return "", ""
    name = dist.metadata["Name"] if getattr(dist, "metadata", None) else getattr(dist, "name", "")
    return name or "", getattr(dist, "version", "") or ""


def _unknown_hooks(module: Any) -> set[str]:
    """Names of functions marked ``@genzoo.hookimpl`` that match no hook genzoo defines."""
    unknown = set()
    for attr in dir(module):
        options = getattr(getattr(module, attr, None), _IMPL_ATTR, None)
        if isinstance(options, dict):
            hook_name = options.get("specname") or attr
            if not callable(getattr(hookspecs, hook_name, None)) or not hook_name.startswith("genzoo_"):
                unknown.add(hook_name)
    return unknown


def _undecorated_hooks(module: Any) -> list[str]:
    """Functions named like a genzoo hook but lacking ``@genzoo.hookimpl`` (pluggy ignores them)."""
    return sorted(
        name for name in dir(module)
        if name.startswith("genzoo_") and callable(getattr(hookspecs, name, None))
        and callable(getattr(module, name, None)) and not isinstance(getattr(getattr(module, name), _IMPL_ATTR, None), dict)
    )


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class PluginHost:
    """Loads plugins, collects and validates their specs, and adds their CLI commands.

    Args:
        entry_points: the entry points to load; by default those of the ``genzoo`` group.
        strict: re-raise plugin errors instead of warning (default: ``GENZOO_STRICT_PLUGINS``).
        disabled: entry-point or distribution names to skip (default: ``GENZOO_DISABLE_PLUGINS``).
        warn: where warning lines go (default: stderr).
    """

    def __init__(
        self,
        entry_points: Iterable[Any] | None = None,
        *,
        strict: bool | None = None,
        disabled: Iterable[str] | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        if entry_points is None:
            entry_points = metadata.entry_points(group=ENTRY_POINT_GROUP)
        self.strict = _env_flag(STRICT_ENV) if strict is None else strict
        self.disabled = _env_list(DISABLE_ENV) if disabled is None else set(disabled)
        self._warn = warn or (lambda line: print(line, file=sys.stderr))
        self.manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.manager.add_hookspecs(hookspecs)
        self.records: dict[str, PluginRecord] = {}
        for entry_point in sorted(entry_points, key=lambda ep: ep.name):
            self._load(entry_point)
        self._warn_unknown_disabled()
        for record in self.records.values():
            if record.status == "ok":
                self._collect_specs(record)

    # --- loading ----------------------------------------------------------------------------
    def _load(self, entry_point: Any) -> None:
        dist, version = _distribution_of(entry_point)
        record = PluginRecord(entry_point.name, entry_point.value, dist, version)
        if entry_point.name in self.records:
            other = self.records[entry_point.name]
            self._fail(record, PluginError(f"entry point name {entry_point.name!r} is already used by {other.describe()}"))
            self.records[f"{entry_point.name}@{dist}"] = record
            return
        self.records[entry_point.name] = record
        if entry_point.name in self.disabled or (dist and dist in self.disabled):
            record.status = "disabled"
            return
        try:
            module = entry_point.load()
            self.manager.register(module, name=entry_point.name)
            unknown = sorted(_unknown_hooks(module))
            if unknown:
                raise PluginError(
                    f"implements unknown hook(s) {', '.join(unknown)}; is it written for another genzoo version?"
                )
            undecorated = _undecorated_hooks(module)
            if undecorated:
                raise PluginError(
                    f"{', '.join(undecorated)} lack(s) the @genzoo.hookimpl decorator, so genzoo would ignore "
                    "them; decorate every hook function"
                )
        except Exception as exc:
            self._fail(record, exc)

    def _warn_unknown_disabled(self) -> None:
        known = {r.name for r in self.records.values()} | {r.distribution for r in self.records.values()}
        for name in sorted(self.disabled - known):
            names = ", ".join(sorted(r.name for r in self.records.values())) or "none"
            self._warn(
                f"genzoo: warning: {DISABLE_ENV} names {name!r}, which is no installed plugin or distribution "
                f"(plugins: {names}); check the spelling"
            )

    def _collect_specs(self, record: PluginRecord) -> None:
        """Call the plugin's registration hooks; keep all of its specs or none of them."""
        collected: dict[str, list[Spec]] = {}
        try:
            for hook_name, kind in hookspecs.SPEC_HOOKS.items():
                for impl in getattr(self.manager.hook, hook_name).get_hookimpls():
                    if impl.plugin_name != record.name:
                        continue
                    result = impl.function()
                    if result is None:
                        continue
                    if isinstance(result, (str, bytes, Spec)) or not isinstance(result, Iterable):
                        raise PluginError(f"{hook_name} must return a list of {SPEC_TYPES[kind].__name__}")
                    collected.setdefault(kind, []).extend(
                        validate_spec(item, SPEC_TYPES[kind]) for item in result
                    )
        except Exception as exc:
            self._fail(record, exc, during="registering")
            return
        record.specs = collected

    def _fail(self, record: PluginRecord, exc: BaseException, during: str = "loading") -> None:
        record.status = "failed"
        record.error = _error_text(exc)
        record.specs = {}
        if self.manager.has_plugin(record.name) and self.manager.get_plugin(record.name) is not None:
            self.manager.unregister(name=record.name)
        if self.strict:
            raise exc
        self._warn(
            f"genzoo: warning: {record.describe()} failed while {during} and was skipped: {record.error} "
            f"(set {STRICT_ENV}=1 for the traceback, or {DISABLE_ENV}={record.name} to silence)"
        )

    # --- queries ----------------------------------------------------------------------------
    def plugins(self) -> list[PluginRecord]:
        return list(self.records.values())

    def specs(self, kind: str) -> list[tuple[PluginRecord, Spec]]:
        """Every ``(plugin, spec)`` of one kind, from plugins that loaded."""
        return [
            (record, spec)
            for record in self.records.values()
            if record.status == "ok"
            for spec in record.specs.get(kind, [])
        ]

    def add_commands(self, app: Any, groups: dict[str, Any]) -> None:
        """Let each plugin add CLI commands; a plugin that raises has its additions removed."""
        for impl in reversed(self.manager.hook.genzoo_commands.get_hookimpls()):
            record = self.records.get(impl.plugin_name)
            targets = [app, *groups.values()]
            before = [(len(t.registered_commands), len(t.registered_groups)) for t in targets]
            kwargs = {"app": app, "groups": groups}
            try:
                impl.function(*[kwargs[name] for name in impl.argnames])
            except Exception as exc:
                for target, (n_commands, n_groups) in zip(targets, before):
                    del target.registered_commands[n_commands:]
                    del target.registered_groups[n_groups:]
                if record is not None:
                    self._fail(record, exc, during="adding commands")
