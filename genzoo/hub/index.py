"""The registry index: what a registry holds, and the rules every entry must follow.

A registry is a folder (or the same folder served over HTTP(S)) with an ``index.json``::

    {"format": "genzoo-registry/1",
     "entries": [{"name": "gvae-mnist5k", "version": "v1", "kind": "model",
                  "model": "gvae", "plugin": "models", "plugin_version": "0.1.0",
                  "dataset": "mnist5k", "step": 2000,
                  "path": "gvae-mnist5k/v1/model.safetensors",
                  "sha256": "...", "size": 123456,
                  "files": {"README.md": {"sha256": "...", "size": 2048}, ...},
                  "metrics": {"fid": 12.3}, "created": "2026-11-28T14:50:00Z"}]}

``path`` is relative to the registry root; ``files`` (the model card, ``config.json``, the sample
grid) are relative to the folder holding ``path``. Everything that ends up in a file path or a URL
is checked here, when the index is read, so that a tampered index cannot reach outside the
registry: no ``..``, no absolute paths, no URLs, no percent escapes, no backslashes.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath
from typing import Any

from genzoo.errors import CheckpointError, UnknownNameError
from genzoo.safejson import loads_bounded, printable

INDEX_FILENAME = "index.json"
INDEX_FORMAT = "genzoo-registry/1"
MAX_INDEX_BYTES = 32 * 1024 * 1024
# What a file of each kind must say in its safetensors metadata "format" field.
KIND_FORMATS = {"model": "genzoo-model/1", "feature-net": "genzoo-feature-net/1"}

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,199}")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class RegistryError(CheckpointError):
    """A registry is unreachable, malformed, or refused an operation."""


def check_name(value: str, what: str = "name") -> str:
    """A checkpoint name or version tag: letters, digits, ``.``, ``_``, ``-``; starts alphanumeric."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise RegistryError(
            f"invalid {what} {value!r}: use letters, digits, '.', '_' and '-' (starting with a letter or digit)"
        )
    return value


def safe_relative_path(value: Any, where: str) -> str:
    """``value`` if it is a plain relative POSIX path that stays inside the registry, else an error."""
    if not isinstance(value, str) or not value:
        raise RegistryError(f"{where}: path must be a non-empty string")
    segments = value.split("/")
    if value.startswith("/") or not all(_SEGMENT.fullmatch(s) for s in segments):
        raise RegistryError(
            f"{where}: path {value!r} points outside the registry or is not a plain relative path; refusing it"
        )
    return value


def parse_reference(reference: str) -> tuple[str, str | None]:
    """``NAME`` or ``NAME@VERSION`` -> ``(name, version or None)``."""
    name, sep, version = reference.partition("@")
    check_name(name)
    if sep:
        check_name(version, "version")
        return name, version
    return name, None


@dataclass(frozen=True)
class FileRecord:
    sha256: str
    size: int


@dataclass(frozen=True)
class IndexEntry:
    """One published version of one checkpoint."""

    name: str
    version: str
    kind: str
    path: str
    sha256: str
    size: int
    model: str = ""
    plugin: str = ""
    plugin_version: str = ""
    dataset: str = ""
    step: int = 0
    files: dict[str, FileRecord] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    created: str = ""

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def folder(self) -> str:
        """The entry's folder, relative to the registry root."""
        parent = str(PurePosixPath(self.path).parent)
        return "" if parent == "." else parent

    def file_path(self, relative: str) -> str:
        """A ``files`` entry's path relative to the registry root."""
        return f"{self.folder}/{relative}" if self.folder else relative

    def all_files(self) -> dict[str, FileRecord]:
        """Every file to fetch, by path relative to the entry's folder: the checkpoint first."""
        main = PurePosixPath(self.path).name
        return {main: FileRecord(self.sha256, self.size), **{k: v for k, v in self.files.items() if k != main}}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["files"] = {k: asdict(v) for k, v in self.files.items()}
        return data


def _record(raw: Any, where: str) -> FileRecord:
    if not isinstance(raw, dict):
        raise RegistryError(f"{where}: expected an object with sha256 and size")
    sha, size = raw.get("sha256"), raw.get("size")
    if not isinstance(sha, str) or not _SHA256.fullmatch(sha):
        raise RegistryError(f"{where}: sha256 must be 64 lowercase hex digits")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise RegistryError(f"{where}: size must be a non-negative integer")
    return FileRecord(sha, size)


def parse_entry(raw: Any, position: int) -> IndexEntry:
    """Validate one index entry; every path it names must stay inside the registry."""
    where = f"index entry {position}"
    if not isinstance(raw, dict):
        raise RegistryError(f"{where} is not an object")
    name = check_name(raw.get("name"), f"name in {where}")
    version = check_name(raw.get("version"), f"version in {where}")
    where = f"index entry {name}@{version}"
    kind = raw.get("kind", "model")
    if kind not in KIND_FORMATS:
        raise RegistryError(f"{where}: unknown kind {kind!r} (known: {', '.join(KIND_FORMATS)})")
    path = safe_relative_path(raw.get("path"), where)
    main = _record(raw, where)
    files_raw = raw.get("files") or {}
    if not isinstance(files_raw, dict):
        raise RegistryError(f"{where}: files must be an object")
    files = {}
    for rel, record in files_raw.items():
        safe_relative_path(rel, f"{where}, file {rel!r}")
        files[rel] = _record(record, f"{where}, file {rel!r}")
    metrics = raw.get("metrics") or {}
    if not isinstance(metrics, dict) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in metrics.values()):
        raise RegistryError(f"{where}: metrics must map names to numbers")
    step = raw.get("step", 0)
    return IndexEntry(
        name=name, version=version, kind=kind, path=path, sha256=main.sha256, size=main.size,
        model=printable(raw.get("model", ""), 100), plugin=printable(raw.get("plugin", ""), 100),
        plugin_version=printable(raw.get("plugin_version", ""), 64), dataset=printable(raw.get("dataset", ""), 100),
        step=step if isinstance(step, int) else 0, files=files, metrics=dict(metrics),
        created=printable(raw.get("created", ""), 40),
    )


@dataclass
class RegistryIndex:
    """All entries of one registry, in publication order."""

    location: str
    entries: list[IndexEntry] = field(default_factory=list)

    @classmethod
    def parse(cls, data: bytes, location: str) -> RegistryIndex:
        raw = loads_bounded(data, f"{location}/{INDEX_FILENAME}", RegistryError, max_bytes=MAX_INDEX_BYTES, max_depth=8)
        if not isinstance(raw, dict) or raw.get("format") != INDEX_FORMAT or not isinstance(raw.get("entries"), list):
            raise RegistryError(f"{location}/{INDEX_FILENAME} is not a genzoo registry index ({INDEX_FORMAT})")
        entries = []
        seen = set()
        for position, item in enumerate(raw["entries"]):
            try:
                entry = parse_entry(item, position)
            except RegistryError as exc:
                raise RegistryError(f"{location}/{INDEX_FILENAME}: {exc}") from None
            if entry.ref in seen:
                raise RegistryError(f"{location}/{INDEX_FILENAME}: {entry.ref} is listed twice")
            seen.add(entry.ref)
            entries.append(entry)
        return cls(location, entries)

    def to_json(self) -> str:
        return json.dumps({"format": INDEX_FORMAT, "entries": [e.to_dict() for e in self.entries]}, indent=2) + "\n"

    def names(self) -> list[str]:
        return list(dict.fromkeys(e.name for e in self.entries))

    def versions(self, name: str) -> list[IndexEntry]:
        return [e for e in self.entries if e.name == name]

    def find(self, name: str, version: str | None = None) -> IndexEntry:
        """The entry ``name@version``; without a version, the newest one published under ``name``."""
        versions = self.versions(name)
        if not versions:
            close = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            known = f" (it holds {len(self.names())} names; see `genzoo registry list`)" if self.entries else " (it is empty)"
            raise UnknownNameError(f"no checkpoint named {name!r} in registry {self.location}{known}{hint}")
        if version is None:
            return versions[-1]
        for entry in versions:
            if entry.version == version:
                return entry
        raise UnknownNameError(
            f"{name} has no version {version!r} in registry {self.location}; "
            f"versions: {', '.join(e.version for e in versions)}"
        )

    def next_version(self, name: str) -> str:
        """``v1`` for a new name, else one more than the highest ``vN`` published."""
        numbers = [int(e.version[1:]) for e in self.versions(name) if re.fullmatch(r"v[0-9]+", e.version)]
        return f"v{max(numbers, default=0) + 1}"
