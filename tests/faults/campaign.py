"""The fault campaign's bookkeeping and its builders of hostile files.

Every case of ``tests/faults`` ends in :func:`refused` (or :func:`survived` for faults a run must
absorb): the command exits non-zero, says exactly one ``genzoo: error:`` line, prints no
traceback and leaves nothing behind. :data:`TALLY` counts them; the session summary prints
``tried / refused in one line / traceback``, the figures the README's reliability section quotes.
"""

from __future__ import annotations

import json
import struct
from collections import Counter
from pathlib import Path
from typing import Any

TALLY: Counter = Counter()


def files_under(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")} if root.exists() else set()


def refused(result: Any, *, contains: str = "", exit_code: int = 1, before: set[str] | None = None,
            root: Path | None = None) -> str:
    """Assert a one-line refusal (and, given ``before``/``root``, that no file appeared); returns the line."""
    TALLY["tried"] += 1
    output = (result.stderr or "") + (result.stdout or "")
    if "Traceback" in output or result.exception is not None and not isinstance(result.exception, SystemExit):
        TALLY["traceback"] += 1
        raise AssertionError(f"traceback instead of one line:\n{output}\n{result.exception!r}")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("genzoo: error: ")]
    assert result.exit_code == exit_code, output
    assert len(errors) == 1 and errors[0] == lines[-1], output
    assert "\x1b" not in output and "\x9b" not in output, repr(output)
    assert contains in errors[0], errors[0]
    if before is not None and root is not None:
        assert files_under(root) == before, sorted(files_under(root) ^ before)
    TALLY["refused"] += 1
    return errors[0]


def survived(result: Any, *, contains: str = "") -> str:
    """Assert a fault the command absorbed: exit 0, no traceback, the notice says why."""
    TALLY["tried"] += 1
    output = (result.stderr or "") + (result.stdout or "")
    if "Traceback" in output or (result.exception is not None and not isinstance(result.exception, SystemExit)):
        TALLY["traceback"] += 1
        raise AssertionError(f"traceback:\n{output}\n{result.exception!r}")
    assert result.exit_code == 0, output
    assert contains in result.stderr, result.stderr
    TALLY["refused"] += 1
    return result.stderr


def counted(refusal: Any) -> None:
    """Count a refusal checked in Python (``pytest.raises``) rather than through the CLI."""
    TALLY["tried"] += 1
    assert "\n" not in str(refusal) and "Traceback" not in str(refusal), str(refusal)
    TALLY["refused"] += 1


# --- safetensors files, built byte by byte ---------------------------------------------------
def split(path: Path) -> tuple[dict[str, Any], bytes]:
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def assemble(header: Any, data: bytes, *, raw_header: bytes | None = None, length: int | None = None) -> bytes:
    text = raw_header if raw_header is not None else json.dumps(header).encode()
    return struct.pack("<Q", len(text) if length is None else length) + text + data


def retyped(header: dict[str, Any], data: bytes, dtype: str) -> bytes:
    """Every float tensor stored with ``dtype`` (1 byte per element), data rebuilt to match."""
    out, blob = {"__metadata__": header["__metadata__"]}, b""
    for name, info in sorted((k, v) for k, v in header.items() if k != "__metadata__"):
        begin, end = info["data_offsets"]
        chunk = data[begin:end]
        if info["dtype"] == "F32":
            count = len(chunk) // 4
            chunk = bytes([1] * count)
            info = {**info, "dtype": dtype}
        out[name] = {**info, "data_offsets": [len(blob), len(blob) + len(chunk)]}
        blob += chunk
    return assemble(out, blob)


def with_metadata(header: dict[str, Any], data: bytes, **changes: Any) -> bytes:
    meta = dict(header["__metadata__"])
    for key, value in changes.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    return assemble({**header, "__metadata__": meta}, data)


def filled(header: dict[str, Any], data: bytes, value: float) -> bytes:
    """Every F32 tensor filled with ``value`` (NaN, inf)."""
    blob = bytearray(data)
    for name, info in header.items():
        if name != "__metadata__" and info["dtype"] == "F32":
            begin, end = info["data_offsets"]
            blob[begin:end] = struct.pack("<f", value) * ((end - begin) // 4)
    return assemble(header, bytes(blob))


def deep(depth: int) -> str:
    return "[" * depth + "]" * depth
