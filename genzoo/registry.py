"""The registry: every model, loss, data set and metric the installed plugins provide, by name.

Names are explicit. When two plugins declare the same name, both stay reachable as
``plugin:name`` and the bare name is an error that lists both providers; an unknown name is an
error that suggests close matches. Components are built here, so the rest of genzoo never
imports a plugin's code directly and never branches on a component's name.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, is_dataclass
from pathlib import Path
from typing import Any

from genzoo import config as config_tools
from genzoo.errors import AmbiguousNameError, ConfigError, PluginError, UnknownNameError
from genzoo.plugins import PluginHost, PluginRecord
from genzoo.specs import SPEC_TYPES, Spec

KINDS = tuple(SPEC_TYPES)


@dataclass(frozen=True)
class Entry:
    """A spec together with the plugin that provides it."""

    spec: Spec
    plugin: PluginRecord

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def qualified_name(self) -> str:
        return f"{self.plugin.name}:{self.spec.name}"


class Registry:
    """Name lookup and construction of components over a :class:`PluginHost`."""

    def __init__(self, host: PluginHost) -> None:
        self.host = host
        self._entries: dict[str, dict[str, list[Entry]]] = {kind: {} for kind in KINDS}
        for kind in KINDS:
            for record, spec in host.specs(kind):
                self._entries[kind].setdefault(spec.name, []).append(Entry(spec, record))

    def entries(self, kind: str) -> list[Entry]:
        """All entries of a kind, sorted by name then provider."""
        self._check_kind(kind)
        return sorted(
            (entry for group in self._entries[kind].values() for entry in group if entry.plugin.status == "ok"),
            key=lambda e: (e.name, e.plugin.name),
        )

    def names(self, kind: str) -> list[str]:
        """Names to use for each entry: bare where unique, ``plugin:name`` where shared."""
        entries = self.entries(kind)
        counts: dict[str, int] = {}
        for entry in entries:
            counts[entry.name] = counts.get(entry.name, 0) + 1
        return [entry.name if counts[entry.name] == 1 else entry.qualified_name for entry in entries]

    def resolve(self, kind: str, name: str) -> Entry:
        """Find the entry for ``name`` or ``plugin:name``; errors say what to type instead."""
        self._check_kind(kind)
        plugin_name, sep, bare = name.partition(":")
        if not sep:
            plugin_name, bare = "", name
        candidates = [e for e in self._entries[kind].get(bare, []) if e.plugin.status == "ok"]
        if plugin_name:
            candidates = [e for e in candidates if e.plugin.name == plugin_name]
        if len(candidates) == 1:
            return candidates[0]
        if len(candidates) > 1:
            providers = " and ".join(f"'{e.qualified_name}'" for e in candidates)
            raise AmbiguousNameError(f"{kind} '{name}' is provided by several plugins: use {providers}")
        entries = self.entries(kind)
        known = sorted({e.qualified_name if sep else e.name for e in entries})
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        available = ", ".join(sorted({e.name for e in entries})) or "none installed"
        raise UnknownNameError(f"unknown {kind} '{name}'{hint} (available: {available})")

    def get(self, kind: str, name: str) -> Spec:
        return self.resolve(kind, name).spec

    # --- construction -------------------------------------------------------------------------
    def make_config(self, spec: Spec, config: Any = None) -> Any:
        """The spec's config dataclass from ``None`` (defaults), a dict, or an instance."""
        try:
            cls = spec.config_class()
        except Exception as exc:
            raise PluginError(f"{spec.kind} '{spec.name}': cannot import its config {spec.config!r}: {type(exc).__name__}: {exc}") from None
        if cls is None:
            if config:
                raise ConfigError(f"{spec.kind} '{spec.name}' takes no configuration")
            return None
        if config is None:
            return cls()
        if is_dataclass(config) and not isinstance(config, type):
            if not isinstance(config, cls):
                raise ConfigError(f"{spec.kind} '{spec.name}' expects a {cls.__name__}, got {type(config).__name__}")
            return config
        if isinstance(config, dict):
            return config_tools.build(cls, config)
        raise ConfigError(f"{spec.kind} '{spec.name}': config must be a dict or {cls.__name__}")

    def _factory(self, entry: Entry) -> Any:
        try:
            return entry.spec.load()
        except Exception as exc:
            raise PluginError(
                f"{entry.plugin.describe()} cannot import {entry.spec.kind} '{entry.name}' "
                f"({entry.spec.factory}): {type(exc).__name__}: {exc}"
            ) from exc

    def build_model(self, name: str, config: Any, data_shape: Any) -> Any:
        entry = self.resolve("model", name)
        return self._factory(entry)(self.make_config(entry.spec, config), tuple(data_shape))

    def build_loss(self, name: str, config: Any = None) -> Any:
        entry = self.resolve("loss", name)
        return self._factory(entry)(self.make_config(entry.spec, config))

    def build_metric(self, name: str, config: Any = None) -> Any:
        entry = self.resolve("metric", name)
        return self._factory(entry)(self.make_config(entry.spec, config))

    def build_dataset(self, name: str, config: Any, split: str, data_dir: str | Path | None = None) -> Any:
        entry = self.resolve("dataset", name)
        splits = getattr(entry.spec, "splits", ())
        if splits and split not in splits:
            raise ConfigError(f"dataset '{entry.name}' has no split '{split}' (splits: {', '.join(splits)})")
        path = Path(data_dir).expanduser() if data_dir else None
        return self._factory(entry)(self.make_config(entry.spec, config), split, path)

    @staticmethod
    def _check_kind(kind: str) -> None:
        if kind not in SPEC_TYPES:
            raise UnknownNameError(f"unknown kind '{kind}' (kinds: {', '.join(KINDS)})")


_REGISTRY: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry over the installed plugins (loaded once, on first use)."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = Registry(PluginHost())
    return _REGISTRY


def set_registry(registry: Registry | None) -> Registry | None:
    """Replace the process-wide registry (tests); returns the previous one."""
    global _REGISTRY
    previous, _REGISTRY = _REGISTRY, registry
    return previous
