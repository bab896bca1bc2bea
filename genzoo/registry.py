"""The registry: every model, loss, data set and metric the installed plugins provide, by name.

Names are explicit, and first-party names win:

* a name one plugin provides is used bare (``gvae``) or qualified (``models:gvae``);
* when a third-party plugin reuses a name genzoo itself ships (a model ``vae``, a loss ``l1``),
  the bare name keeps meaning genzoo's component, so ``genzoo run gvae`` and published checkpoints
  keep working; the other one is reachable only as ``plugin:name`` and ``genzoo list`` warns;
* when two third-party plugins share a name, the bare name is an error listing ``plugin:name`` of
  both; an unknown name is an error that suggests close matches.

Components are built here, so the rest of genzoo never imports a plugin's code directly and never
branches on a component's name. Building a model records which plugin provided every component
its factory resolved (the losses it composes by name); checkpoints store that list, and
:meth:`Registry.pinned` makes a rebuild resolve the same names to the same plugins.
"""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, is_dataclass
from pathlib import Path
from typing import Any

from genzoo import config as config_tools
from genzoo.errors import (
    AmbiguousNameError,
    ConfigError,
    GenzooError,
    PluginError,
    PluginMissingError,
    UnknownNameError,
)
from genzoo.plugins import DISABLE_ENV, STRICT_ENV, PluginHost, PluginRecord
from genzoo.safejson import pip_hint, printable
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

    def record(self, requested: str) -> dict[str, str]:
        """What a checkpoint stores about this component (see :meth:`Registry.pinned`)."""
        return {
            "kind": self.spec.kind,
            "name": requested,
            "component": self.spec.name,
            "plugin": self.plugin.name,
            "distribution": self.plugin.distribution,
            "version": self.plugin.version,
        }


class Registry:
    """Name lookup and construction of components over a :class:`PluginHost`."""

    def __init__(self, host: PluginHost) -> None:
        self.host = host
        self._entries: dict[str, dict[str, list[Entry]]] = {kind: {} for kind in KINDS}
        for kind in KINDS:
            for record, spec in host.specs(kind):
                self._entries[kind].setdefault(spec.name, []).append(Entry(spec, record))
        self._pins: dict[tuple[str, str], tuple[dict[str, Any], str]] = {}
        self._recordings: list[dict[tuple[str, str], Entry]] = []
        self._checked_configs: set[type] = set()

    def entries(self, kind: str) -> list[Entry]:
        """All entries of a kind, sorted by name then provider."""
        self._check_kind(kind)
        return sorted(
            (entry for group in self._entries[kind].values() for entry in group if entry.plugin.status == "ok"),
            key=lambda e: (e.name, e.plugin.name),
        )

    def _winner(self, candidates: list[Entry]) -> Entry | None:
        """The entry a bare name means: the only one, or the only first-party one."""
        if len(candidates) == 1:
            return candidates[0]
        first_party = [e for e in candidates if e.plugin.first_party]
        return first_party[0] if len(first_party) == 1 else None

    def names(self, kind: str) -> list[str]:
        """Names to use for each entry: bare where it resolves to it, ``plugin:name`` otherwise."""
        entries = self.entries(kind)
        groups: dict[str, list[Entry]] = {}
        for entry in entries:
            groups.setdefault(entry.name, []).append(entry)
        return [entry.name if self._winner(groups[entry.name]) is entry else entry.qualified_name for entry in entries]

    def shadowed(self, kind: str) -> list[tuple[Entry, Entry]]:
        """``(hidden, winner)`` for every third-party entry whose bare name means a first-party one."""
        hidden = []
        for name in sorted({e.name for e in self.entries(kind)}):
            group = [e for e in self.entries(kind) if e.name == name]
            winner = self._winner(group) if len(group) > 1 else None
            hidden.extend((entry, winner) for entry in group if winner is not None and entry is not winner)
        return hidden

    def shadow_warnings(self, kinds: Iterable[str] = KINDS) -> list[str]:
        """One warning line per shadowed component (``genzoo list`` prints them on stderr)."""
        return [
            f"genzoo: warning: {hidden.plugin.describe()} also provides {kind} '{hidden.name}'; the bare name "
            f"means {winner.plugin.describe()}'s, so use '{hidden.qualified_name}' for the other one"
            for kind in kinds
            for hidden, winner in self.shadowed(kind)
        ]

    def resolve(self, kind: str, name: str) -> Entry:
        """Find the entry for ``name`` or ``plugin:name``; errors say what to type instead."""
        self._check_kind(kind)
        entry = self._resolve_pin(kind, name) if (kind, name) in self._pins else self._lookup(kind, name)
        for recording in self._recordings:
            recording.setdefault((kind, name), entry)
        return entry

    def _lookup(self, kind: str, name: str) -> Entry:
        plugin_name, sep, bare = name.partition(":")
        if not sep:
            plugin_name, bare = "", name
        candidates = [e for e in self._entries[kind].get(bare, []) if e.plugin.status == "ok"]
        if plugin_name:
            candidates = [e for e in candidates if e.plugin.name == plugin_name]
            record = self.host.records.get(plugin_name)
            if not candidates and record is not None and record.status != "ok":
                raise self.unavailable(kind, bare, plugin_name)
        entry = self._winner(candidates) if candidates else None
        if entry is not None:
            return entry
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

    # --- checkpoints: which plugin provided what ----------------------------------------------
    def unavailable(
        self, kind: str, name: str, plugin: str, *, needed_by: str = "", distribution: str = "", version: str = ""
    ) -> PluginMissingError:
        """The error for a component of ``plugin`` that is not available here, saying why:
        not installed (with the pip command), installed but disabled, failed to load, or too old."""
        if needed_by:
            what = f"{needed_by} needs {kind} '{name}' from plugin '{plugin}'"
        else:
            what = f"{kind} '{plugin}:{name}' comes from plugin '{plugin}'"
        what = printable(what, 600)  # names from a checkpoint's metadata: anyone's text
        record = self.host.records.get(plugin)
        install = pip_hint(distribution or (record.distribution if record else "") or plugin, version)
        if record is None:
            return PluginMissingError(f"{what}, which is not installed: {install}")
        if record.status == "disabled":
            return PluginMissingError(
                f"{what}, which is installed but disabled by {DISABLE_ENV}; remove '{plugin}' "
                f"(or '{record.distribution}') from {DISABLE_ENV}"
            )
        if record.status == "failed":
            return PluginMissingError(
                f"{what}, which is installed ({record.distribution} {record.version}) but failed to load: "
                f"{record.error} (see `genzoo plugins`; {STRICT_ENV}=1 shows the traceback)"
            )
        return PluginMissingError(
            f"{what}, but {record.describe()} installed here provides no {kind} '{printable(name, 60)}': "
            f"{install}"
        )

    def require(self, kind: str, name: str, plugin: str, *, needed_by: str, distribution: str = "",
                version: str = "") -> Entry:
        """The entry ``plugin:name``, or the :meth:`unavailable` error that says why it is not here."""
        self._check_kind(kind)
        try:
            return self._lookup(kind, f"{plugin}:{name}")
        except (UnknownNameError, PluginMissingError):
            raise self.unavailable(
                kind, name, plugin, needed_by=needed_by, distribution=distribution, version=version
            ) from None

    @contextlib.contextmanager
    def pinned(self, components: Iterable[dict[str, Any]] | None, needed_by: str) -> Iterator[None]:
        """Inside the block, each recorded name resolves to the plugin that provided it when the
        checkpoint was written (``components`` as :meth:`Entry.record` gives them), and a provider
        that is not available here is the :meth:`unavailable` error, raised only if it is used."""
        pins = {}
        for item in components or ():
            if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("kind", "name", "plugin")):
                raise GenzooError(f"{needed_by}: its list of components is malformed")
            pins[(item["kind"], item["name"])] = (dict(item), needed_by)
        previous = self._pins
        self._pins = {**previous, **pins}
        try:
            yield
        finally:
            self._pins = previous

    def _resolve_pin(self, kind: str, requested: str) -> Entry:
        item, needed_by = self._pins[(kind, requested)]
        component = str(item.get("component") or requested.rpartition(":")[2])
        return self.require(kind, component, item["plugin"], needed_by=needed_by,
                            distribution=str(item.get("distribution") or ""), version=str(item.get("version") or ""))

    @contextlib.contextmanager
    def recording(self) -> Iterator[dict[tuple[str, str], Entry]]:
        """Collect every ``(kind, requested name) -> entry`` resolved inside the block."""
        recording: dict[tuple[str, str], Entry] = {}
        self._recordings.append(recording)
        try:
            yield recording
        finally:
            self._recordings.remove(recording)

    # --- construction -------------------------------------------------------------------------
    def make_config(self, spec: Spec, config: Any = None) -> Any:
        """The spec's config dataclass from ``None`` (defaults), a dict, or an instance."""
        try:
            cls = spec.config_class()
        except Exception as exc:
            raise PluginError(f"{spec.kind} '{spec.name}': cannot import its config {spec.config!r}: {type(exc).__name__}: {exc}") from None
        if cls is not None and cls not in self._checked_configs:
            try:
                config_tools.check_config_class(cls)
            except ConfigError as exc:
                raise PluginError(f"{spec.kind} '{spec.name}': {exc}") from None
            self._checked_configs.add(cls)
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
        """Build model ``name``; ``model.genzoo_components`` lists the components it resolved."""
        entry = self.resolve("model", name)
        factory = self._factory(entry)
        model_config = self.make_config(entry.spec, config)
        with self.recording() as used:
            model = factory(model_config, tuple(data_shape))
        model.genzoo_components = [
            resolved.record(requested) for (kind, requested), resolved in sorted(used.items()) if kind != "model"
        ]
        return model

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
