"""Bounded parsing of untrusted JSON, and text that is safe to show on a terminal.

Everything genzoo reads from a file someone else wrote (a safetensors header, its metadata
fields, a registry ``index.json``, a run's ``config.json``) goes through :func:`loads_bounded`:
the size and the nesting depth are checked on the raw text *before* ``json.loads`` runs, so a
100,000-deep ``[[[[...`` is one line instead of a ``RecursionError``. Text taken from such files is
passed through :func:`printable` before it reaches a terminal, so escape sequences in a plugin
name cannot move the cursor, rewrite the screen or hide a command.
"""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np

from genzoo.errors import GenzooError

MAX_DEPTH = 64
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
# C0 and C1 control characters, DEL, and the Unicode bidirectional overrides and isolates.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# PEP 508 distribution names; PEP 440 versions (public and local parts).
_DISTRIBUTION = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?")
_VERSION = re.compile(r"v?[0-9]+(\.[0-9]+)*((a|b|rc)[0-9]+)?(\.post[0-9]+)?(\.dev[0-9]+)?(\+[A-Za-z0-9.]+)?")


def nesting_depth(data: bytes) -> int:
    """The deepest ``[``/``{`` nesting of JSON text (brackets inside strings do not count)."""
    skeleton = _STRING.sub(b'""', data)
    codes = np.frombuffer(skeleton, dtype=np.uint8)
    steps = np.zeros(len(codes), dtype=np.int64)
    steps[(codes == ord("[")) | (codes == ord("{"))] = 1
    steps[(codes == ord("]")) | (codes == ord("}"))] = -1
    return int(np.cumsum(steps).max(initial=0))


def loads_bounded(
    data: bytes | str,
    what: str,
    error: type[GenzooError],
    *,
    max_bytes: int,
    max_depth: int = MAX_DEPTH,
) -> Any:
    """``json.loads`` that refuses, as one ``error`` line, text too large, too deep or invalid."""
    raw = data.encode() if isinstance(data, str) else bytes(data)
    if len(raw) > max_bytes:
        raise error(f"{what} is {len(raw)} bytes, more than the {max_bytes} allowed; refusing it")
    depth = nesting_depth(raw)
    if depth > max_depth:
        raise error(f"{what} is nested {depth} levels deep (at most {max_depth} allowed); refusing it")
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise error(f"{what} is not valid JSON ({printable(str(exc))})") from None


def printable(text: Any, limit: int = 200) -> str:
    """``text`` with control characters replaced by ``?`` and cut to ``limit`` characters."""
    clean = _CONTROL.sub("?", str(text))
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def is_distribution_name(name: Any) -> bool:
    """Whether ``name`` is a valid PEP 508 distribution name (safe inside a ``pip install``)."""
    return isinstance(name, str) and len(name) <= 100 and _DISTRIBUTION.fullmatch(name) is not None


def is_version(text: Any) -> bool:
    """Whether ``text`` looks like a PEP 440 version (digits, dots, a/b/rc, post, dev, local)."""
    return isinstance(text, str) and len(text) <= 64 and _VERSION.fullmatch(text) is not None


def pip_hint(distribution: str, version: str = "") -> str:
    """``pip install 'DIST>=VERSION'``, only for a valid package name and version (else a warning):
    the names come from a checkpoint's metadata, and a copy-pasted command must not run anything else."""
    if not is_distribution_name(distribution) or (version and not is_version(version)):
        return ("its metadata names no valid package to install (the file may have been tampered with); "
                "ask its author which plugin it needs")
    return f"pip install '{distribution}>={version}'" if version else f"pip install '{distribution}'"
