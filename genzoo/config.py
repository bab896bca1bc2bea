"""Typed configs: dataclasses with documented defaults, loaded from TOML and ``--set`` overrides.

Every component's config is a (possibly nested) dataclass. Each field documents itself through
``metadata={"doc": "..."}``, which ``genzoo info`` prints. :func:`build` turns a plain dict (from
TOML, JSON or a checkpoint) back into the dataclass, checking field names and types, so a typo in
a config file is an error that names the field, never a silently ignored key.

A config is stored as JSON in every run folder and checkpoint, so every annotation must survive
``to_dict`` -> JSON -> :func:`build`. Supported: ``int``, ``float``, ``str``, ``bool``, ``Any``,
``Literal[...]`` of those, ``X | None`` and unions of supported types, ``tuple`` / ``tuple[X, ...]``
/ ``tuple[X, Y]``, ``list`` / ``list[X]``, ``dict`` / ``dict[str, X]`` and nested dataclasses.
JSON turns tuples into lists; :func:`build` turns them back. :func:`check_config_class` refuses
anything else (a ``Path``, a ``set``, a torch dtype) with one line when the component is first used.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import MISSING, Field, fields, is_dataclass
from pathlib import Path
from typing import Any, TypeVar

from genzoo.errors import ConfigError

T = TypeVar("T")


def doc(text: str, default: Any = MISSING, *, default_factory: Any = MISSING, sampling: bool = False) -> Any:
    """A dataclass field with a documented default: ``latent_dim: int = doc("...", 128)``.

    ``sampling=True`` marks a model setting that acts only when the model draws samples (wgan-gp's
    ``refine_steps``): ``genzoo sample --set`` and ``genzoo.load(overrides=)`` may change it on a trained file.
    """
    metadata = {"doc": text, "sampling": True} if sampling else {"doc": text}
    if default_factory is not MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def sampling_settings(cls: Any, prefix: str = "") -> list[str]:
    """The dotted names of a config class's ``doc(..., sampling=True)`` fields, nested configs included."""
    if cls is None:
        return []
    names: list[str] = []
    hints = _type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.metadata.get("sampling"):
            names.append(prefix + f.name)
        elif dataclasses.is_dataclass(hints.get(f.name)):
            names += sampling_settings(hints[f.name], f"{prefix}{f.name}.")
    return names


def to_dict(config: Any) -> dict[str, Any]:
    """A JSON-ready dict of a dataclass config (tuples become lists)."""
    if config is None:
        return {}
    return json.loads(json.dumps(dataclasses.asdict(config)))


def _type_hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Convert ``value`` (from JSON/TOML/CLI) to the annotated type ``hint``."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: cannot use {value!r}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(repr, args))}")
        return value
    if is_dataclass(hint):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a table of fields, got {value!r}")
        return build(hint, value, prefix=where + ".")
    if hint in (tuple, list):  # bare annotations: JSON brings tuples back as lists
        origin, args = hint, ()
    if hint is dict:
        origin = dict
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(value):
                raise ConfigError(f"{where}: expected {len(args)} values, got {len(value)}")
            items = [_coerce(v, a, where) for v, a in zip(value, args)]
        else:
            item_hint = args[0] if args else Any
            items = [_coerce(v, item_hint, where) for v in value]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a table, got {value!r}")
        item_hint = args[1] if len(args) == 2 else Any
        return {key: _coerce(item, item_hint, f"{where}.{key}") for key, item in value.items()}
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    if isinstance(hint, type) and isinstance(value, hint):
        return value
    raise ConfigError(f"{where}: cannot use {value!r} as {getattr(hint, '__name__', hint)}")


def build(cls: type[T], values: Mapping[str, Any] | None = None, *, prefix: str = "") -> T:
    """Build dataclass ``cls`` from a dict, filling defaults and rejecting unknown fields."""
    values = dict(values or {})
    hints = _type_hints(cls)
    known = {f.name: f for f in fields(cls) if f.init}
    unknown = sorted(set(values) - set(known))
    if unknown:
        import difflib

        hint = difflib.get_close_matches(unknown[0], known, n=1)
        extra = f" (did you mean {prefix}{hint[0]}?)" if hint else f"; known fields: {', '.join(known)}"
        raise ConfigError(f"unknown config field {prefix}{unknown[0]}{extra}")
    kwargs = {}
    for name, value in values.items():
        value = _merge_dict_default(known[name], hints[name], value)
        kwargs[name] = _coerce(value, hints[name], prefix + name)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{prefix.rstrip('.') or cls.__name__}: {exc}") from None


def _merge_dict_default(f: Field, hint: Any, value: Any) -> Any:
    """A free-form dict field keeps its default entries unless overridden key by key, so
    ``--set loss.options.scale=0.2`` changes one option instead of dropping the others."""
    if (hint is not dict and typing.get_origin(hint) is not dict) or not isinstance(value, Mapping):
        return value
    if f.default_factory is MISSING:  # type: ignore[misc]
        return value
    default = f.default_factory()  # type: ignore[misc]
    return {**default, **value} if isinstance(default, Mapping) else value


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``update``'s entries, tables merged key by key at every depth."""
    merged = dict(base)
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_value(text: str) -> Any:
    """Parse the right-hand side of ``--set key=value`` as a TOML value, else keep it as a string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except (tomllib.TOMLDecodeError, RecursionError):
        return text


def apply_overrides(values: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Apply ``key.sub=value`` strings to a nested dict (a copy is returned)."""
    result = json.loads(json.dumps(values))
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected key=value, for example --set model.latent_dim=64")
        parts = key.strip().split(".")
        node = result
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {item!r}: {part} is a value, not a table")
            node = child
        node[parts[-1]] = parse_value(raw.strip())
    return result


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML config file; a missing or malformed file is a one-line :class:`ConfigError`."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a folder; pass a .toml file") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {str(exc)[:200]}") from None


_SCALARS = (int, float, str, bool)


def _unsupported(hint: Any) -> str | None:
    """Why ``hint`` cannot round-trip through JSON, or ``None`` when it can."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any or hint in _SCALARS or hint is type(None) or hint in (tuple, list, dict):
        return None
    if is_dataclass(hint) and isinstance(hint, type):
        return None
    if origin is typing.Literal:
        bad = [a for a in args if not isinstance(a, _SCALARS) and a is not None]
        return f"Literal values must be numbers, strings or booleans, not {bad[0]!r}" if bad else None
    if origin in (typing.Union, types.UnionType, tuple, list):
        return next((why for why in map(_unsupported, (a for a in args if a is not Ellipsis)) if why), None)
    if origin is dict:
        if args and args[0] is not str:
            return f"dict keys must be str (JSON object keys), not {_type_name(args[0])}"
        return _unsupported(args[1]) if args else None
    return f"{_type_name(hint)} cannot be stored as JSON"


def check_config_class(cls: type) -> None:
    """Refuse a config dataclass whose fields would not survive the checkpoint's JSON round trip.

    Checks every annotation (recursively) and that the defaults come back equal from
    ``build(cls, to_dict(cls()))``; raises :class:`ConfigError` naming the field.
    """
    _check_annotations(cls, "")
    try:
        default = cls()
    except TypeError:  # required fields: nothing to compare
        return
    try:
        again = build(cls, to_dict(default))
    except (ConfigError, TypeError, ValueError) as exc:
        raise ConfigError(f"{cls.__name__}: its defaults do not survive the JSON round trip: {exc}") from None
    if again != default:
        changed = next(f.name for f in fields(cls) if getattr(again, f.name) != getattr(default, f.name))
        raise ConfigError(
            f"{cls.__name__}.{changed}: default {getattr(default, changed)!r} comes back from JSON as "
            f"{getattr(again, changed)!r}; annotate it with a type genzoo.config supports (tuple[float, float], ...)"
        )


def _check_annotations(cls: type, prefix: str) -> None:
    try:
        hints = _type_hints(cls)
    except Exception as exc:  # an annotation that names something undefined
        raise ConfigError(f"{cls.__name__}: cannot read its annotations: {type(exc).__name__}: {exc}") from None
    for f in fields(cls):
        hint = hints[f.name]
        why = _unsupported(hint)
        if why:
            raise ConfigError(
                f"config field {prefix}{f.name}: {_type_name(hint)} is not supported ({why}); use int, float, "
                "str, bool, Literal, tuple[...], list[...], dict[str, ...], X | None or a nested dataclass"
            )
        if is_dataclass(hint):
            _check_annotations(hint, f"{prefix}{f.name}.")


def describe_fields(cls: type | None, prefix: str = "", defaults: Any = None) -> list[tuple[str, str, str, str]]:
    """Rows ``(name, type, default, doc)`` for every field of a config dataclass, recursively; a nested
    config shows its field's default (``defaults``), which may differ from its class's."""
    if cls is None:
        return []
    rows: list[tuple[str, str, str, str]] = []
    hints = _type_hints(cls)
    for f in fields(cls):
        hint = hints[f.name]
        default = getattr(defaults, f.name) if defaults is not None else _default_of(f)
        if is_dataclass(hint):
            nested = default if is_dataclass(default) else None
            rows.extend(describe_fields(hint, prefix + f.name + ".", nested))
            continue
        type_name = _type_name(hint)
        rows.append((prefix + f.name, type_name, repr(default), f.metadata.get("doc", "")))
    return rows


def _type_name(hint: Any) -> str:
    """A short readable type: ``int``, ``auto|dcgan|resnet``, ``tuple[float, float]``, ``int | None``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Literal:
        return "|".join(str(arg) for arg in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(arg) for arg in args)
    if hint is type(None):
        return "None"
    if hint is Any:
        return "Any"
    if origin is not None and args:
        inner = ", ".join("..." if arg is Ellipsis else _type_name(arg) for arg in args)
        return f"{getattr(origin, '__name__', str(origin))}[{inner}]"
    return getattr(hint, "__name__", str(hint)).replace("typing.", "")


def _default_of(f: Field) -> Any:
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return "(required)"
