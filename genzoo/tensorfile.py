"""Safetensors files: one validator for headers, and byte-for-byte reproducible writing.

A safetensors file is ``<u64 little-endian header length N><N bytes of JSON header><data>``
(https://github.com/huggingface/safetensors#format). The header maps each tensor name to
``{"dtype", "shape", "data_offsets": [begin, end]}`` (offsets into the data, which must tile it
exactly) plus an optional ``"__metadata__"`` map of strings to strings. :func:`read_header`
parses and checks all of it here, with a bounded size and nesting depth, before any file is
handed to the safetensors library, so every malformed or hostile file is one
:class:`~genzoo.errors.CheckpointError` line and never a Python exception from deep inside.

:func:`write_safetensors` writes metadata keys in sorted order (the library writes them in
hash-map order), so identical tensors and metadata give identical bytes and identical sha256s.
"""

from __future__ import annotations

import json
import os
import stat
import struct
from pathlib import Path
from typing import Any

from genzoo.errors import CheckpointError
from genzoo.safejson import loads_bounded, printable

MAX_HEADER_BYTES = 100 * 1024 * 1024
METADATA_KEY = "__metadata__"
# Bytes per element of every dtype the format defines.
DTYPE_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8,
}
FLOAT_DTYPES = frozenset({"F8_E5M2", "F8_E4M3", "F16", "BF16", "F32", "F64"})


def _sniff(head: bytes) -> str:
    if head[:1] == b"\x80" or head[:2] == b"PK":
        return "is a pickle / torch.save file; genzoo loads only safetensors and never unpickles"
    return "is not a safetensors file, or it is truncated"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def check_tensor_index(index: dict[str, Any], data_size: int, where: str) -> None:
    """Every tensor entry is well formed and the entries tile the ``data_size`` data bytes exactly."""
    spans = []
    for name, info in index.items():
        shown = printable(name, 80)
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise CheckpointError(f"{where}: tensor {shown!r} must have exactly dtype, shape and data_offsets")
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in DTYPE_BYTES:
            raise CheckpointError(f"{where}: tensor {shown!r} has unknown dtype {printable(dtype, 20)!r}")
        if not isinstance(shape, list) or len(shape) > 8 or not all(_is_int(d) for d in shape):
            raise CheckpointError(f"{where}: tensor {shown!r} has an invalid shape (a list of up to 8 sizes)")
        if not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_int(o) for o in offsets):
            raise CheckpointError(f"{where}: tensor {shown!r} has invalid data_offsets (two byte positions)")
        count = 1
        for d in shape:
            count *= d
        if offsets[1] - offsets[0] != count * DTYPE_BYTES[dtype]:
            raise CheckpointError(
                f"{where}: tensor {shown!r} spans {offsets[1] - offsets[0]} bytes, but {dtype} of shape {shape} "
                f"needs {count * DTYPE_BYTES[dtype]}"
            )
        spans.append((offsets[0], offsets[1]))
    position = 0
    for begin, end in sorted(spans):
        if begin != position:
            raise CheckpointError(f"{where}: tensor data overlaps or leaves a gap at byte {position}")
        position = end
    if position > data_size:
        raise CheckpointError(
            f"{where} is truncated (the header promises {position} bytes of tensor data, the file has "
            f"{data_size}); copy or download it again"
        )
    if position != data_size:
        raise CheckpointError(f"{where} has {data_size - position} bytes after its last tensor; it was changed")


def read_header(path: str | Path) -> tuple[dict[str, Any], dict[str, str]]:
    """Parse and check a safetensors header without touching the tensors: ``(tensor_index, metadata)``."""
    path = Path(path)
    if path.is_dir():
        path = path / "model.safetensors"
    try:
        info = path.stat()
    except OSError:
        raise CheckpointError(f"checkpoint {path} does not exist") from None
    if not stat.S_ISREG(info.st_mode):
        raise CheckpointError(f"{path} is not a regular file")
    size = info.st_size
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
            header_len = struct.unpack("<Q", head)[0] if len(head) == 8 else 0
            if not 2 <= header_len <= min(MAX_HEADER_BYTES, size - 8):
                raise CheckpointError(f"{path} {_sniff(head)}")
            raw = handle.read(header_len)
    except OSError as exc:
        raise CheckpointError(f"{path} cannot be read: {exc.strerror or exc}") from None
    if raw[:1] != b"{":
        raise CheckpointError(f"{path} {_sniff(head)}")
    header = loads_bounded(raw, f"{path}: the safetensors header", CheckpointError,
                           max_bytes=MAX_HEADER_BYTES, max_depth=4)
    if not isinstance(header, dict):
        raise CheckpointError(f"{path} is not a safetensors file (its header is not a JSON object)")
    metadata = header.pop(METADATA_KEY, None)
    if metadata is None:
        metadata = {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise CheckpointError(f"{path}: the header's {METADATA_KEY} must map strings to strings")
    check_tensor_index(header, size - 8 - header_len, str(path))
    return header, metadata


def write_safetensors(path: str | Path, tensors: dict[str, Any], metadata: dict[str, str]) -> None:
    """Write ``tensors`` and ``metadata`` as safetensors with a sorted, reproducible header."""
    from safetensors.torch import save

    blob = save(tensors)
    header_len = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8 : 8 + header_len])
    header.pop(METADATA_KEY, None)
    ordered = {METADATA_KEY: dict(sorted(metadata.items()))} if metadata else {}
    ordered.update(sorted(header.items()))
    text = json.dumps(ordered, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the format pads the header with spaces to 8-byte alignment
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(text)))
        handle.write(text)
        handle.write(memoryview(blob)[8 + header_len :])
        handle.flush()
        os.fsync(handle.fileno())
