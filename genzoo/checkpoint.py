"""Checkpoints: safetensors only, self-describing, written atomically.

A *model checkpoint* is one ``.safetensors`` file: the model's ``state_dict`` plus string metadata
(format version, model name, providing plugin, its distribution and version, the resolved config
as JSON, data set name and config, data shape, normalisation, genzoo version, step, and the
plugin behind every component the model composes by name, ``components``). It is enough
on its own to rebuild the model. Loading reads the header first, so a missing plugin is reported
as "install X", a pickle or corrupt file as one clear line, and nothing in the file is executed:
safetensors holds raw tensors and a JSON header, never code.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from genzoo.errors import CheckpointError

MODEL_FORMAT = "genzoo-model/1"
MODEL_FILENAME = "model.safetensors"
MAX_HEADER_BYTES = 100 * 1024 * 1024
META_KEYS = (
    "format",
    "model",
    "plugin",
    "plugin_distribution",
    "plugin_version",
    "config",
    "dataset",
    "dataset_config",
    "data_shape",
    "normalisation",
    "genzoo_version",
    "step",
)


# --- atomic writes ----------------------------------------------------------------------------
def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # some file systems do not allow opening a directory
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Write ``path`` through ``write(tmp)``, fsync it, then rename into place.

    A failure (a full disk, a crash, an exception in ``write``) leaves any previous ``path``
    untouched and removes the temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path


# --- reading the header -----------------------------------------------------------------------
def _sniff_not_safetensors(head: bytes) -> str | None:
    if head[:1] == b"\x80" or head[:2] == b"PK":
        return "is a pickle / torch.save file; genzoo loads only safetensors and never unpickles"
    return None


def read_header(path: str | Path) -> tuple[dict[str, Any], dict[str, str]]:
    """Parse a safetensors header without touching the tensors: ``(tensor_index, metadata)``."""
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILENAME
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(8)
        header_len = struct.unpack("<Q", head)[0] if len(head) == 8 else 0
        raw = handle.read(header_len) if 0 < header_len <= min(MAX_HEADER_BYTES, size - 8) else b""
    try:
        header = json.loads(raw) if raw else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        header = None
    if header is None:
        # Only now look for the usual impostors, to say what the file is instead.
        reason = _sniff_not_safetensors(head) or "is not a safetensors file, or it is truncated"
        raise CheckpointError(f"{path} {reason}")
    if not isinstance(header, dict):
        raise CheckpointError(f"{path} is not a safetensors file")
    metadata = header.pop("__metadata__", None) or {}
    data_end = max((int(v["data_offsets"][1]) for v in header.values() if isinstance(v, dict)), default=0)
    if 8 + header_len + data_end > size:
        raise CheckpointError(
            f"{path} is truncated ({size} bytes, the header promises {8 + header_len + data_end}); "
            "copy or download it again"
        )
    return header, metadata


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The genzoo metadata of a model checkpoint, JSON fields decoded."""
    _, raw = read_header(path)
    if raw.get("format") != MODEL_FORMAT:
        found = raw.get("format")
        what = f"format {found!r}" if found else "no genzoo metadata"
        raise CheckpointError(f"{path} is a safetensors file with {what}; expected a genzoo model checkpoint ({MODEL_FORMAT})")
    missing = [key for key in META_KEYS if key not in raw]
    if missing:
        raise CheckpointError(f"{path} lacks checkpoint metadata: {', '.join(missing)}")
    meta: dict[str, Any] = {}
    for key, value in raw.items():
        try:
            meta[key] = json.loads(value) if key in _JSON_KEYS else value
        except json.JSONDecodeError:
            raise CheckpointError(f"{path}: metadata field {key!r} is not valid JSON") from None
    return meta


_JSON_KEYS = {"config", "dataset_config", "data_shape", "normalisation", "step", "extra", "components"}


# --- model checkpoints ------------------------------------------------------------------------
def encode_metadata(meta: dict[str, Any]) -> dict[str, str]:
    missing = [key for key in META_KEYS if key != "format" and key not in meta]
    if missing:
        raise ValueError(f"checkpoint metadata lacks {', '.join(missing)}")
    out = {"format": MODEL_FORMAT}
    for key, value in meta.items():
        if key == "format":
            continue
        out[key] = json.dumps(value, sort_keys=True) if key in _JSON_KEYS else str(value)
    return out


def state_tensors(module: Any) -> dict[str, Any]:
    """A state_dict safetensors can store: contiguous CPU tensors, shared storage cloned apart."""
    tensors = {}
    seen: set[int] = set()
    for key, value in module.state_dict().items():
        tensor = value.detach().to("cpu").contiguous()
        if tensor.untyped_storage().data_ptr() in seen and tensor.numel():
            tensor = tensor.clone()
        seen.add(tensor.untyped_storage().data_ptr())
        tensors[key] = tensor
    return tensors


def save_model(path: str | Path, model: Any, meta: dict[str, Any]) -> Path:
    """Write a self-describing model checkpoint atomically."""
    from safetensors.torch import save_file

    metadata = encode_metadata(meta)
    tensors = state_tensors(model)
    return atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))


def load_weights(model: Any, state: dict[str, Any], context: str) -> None:
    """Load a state dict exactly; a missing, extra or mis-shaped tensor is one CheckpointError line."""
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:
        detail = next((line.strip() for line in str(exc).splitlines() if "size mismatch" in line), str(exc).splitlines()[0])
        raise CheckpointError(f"{context}: {detail}") from None
    if result.missing_keys or result.unexpected_keys:
        raise CheckpointError(f"{context}: missing {result.missing_keys[:3]}, unexpected {result.unexpected_keys[:3]}")


def load_model(path: str | Path, device: str = "cpu", registry: Any = None) -> tuple[Any, dict[str, Any]]:
    """Rebuild the model a checkpoint describes and load its weights; returns ``(model, meta)``."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from genzoo.registry import get_registry

    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILENAME
    meta = read_metadata(path)
    registry = registry or get_registry()
    entry = registry.require(
        "model", meta["model"], meta["plugin"], needed_by=str(path),
        distribution=meta.get("plugin_distribution") or "", version=meta.get("plugin_version") or "",
    )
    # The losses (and any other component) the model composes resolve to the plugins that
    # provided them when the checkpoint was written, not to whatever uses that name here.
    with registry.pinned(meta.get("components"), needed_by=str(path)):
        model = registry.build_model(entry.qualified_name, meta["config"], meta["data_shape"])
    try:
        state = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path} could not be read as safetensors: {exc}") from None
    load_weights(model, state, f"{path} does not fit model '{meta['model']}' of plugin {entry.plugin.name} {entry.plugin.version}")
    model.to(device)
    model.eval()
    return model, meta


def model_metadata(model: Any, entry: Any, *, dataset: str, dataset_config: Any, data_shape: Any,
                   normalisation: dict[str, Any], step: int, dataset_entry: Any = None) -> dict[str, Any]:
    """The metadata of a model checkpoint for ``model`` built from registry ``entry``.

    ``components`` lists the plugin behind the data set and every component the model resolved
    while it was built (:meth:`genzoo.registry.Registry.build_model`), so a rebuild uses the same ones.
    """
    from genzoo import __version__
    from genzoo.config import to_dict

    components = list(getattr(model, "genzoo_components", []))
    if dataset_entry is not None:
        components.insert(0, dataset_entry.record(dataset))
    return {
        "model": entry.name,
        "plugin": entry.plugin.name,
        "plugin_distribution": entry.plugin.distribution,
        "plugin_version": entry.plugin.version,
        "config": to_dict(model.config),
        "dataset": dataset,
        "dataset_config": dict(dataset_config) if isinstance(dataset_config, dict) else to_dict(dataset_config),
        "data_shape": [int(d) for d in data_shape],
        "normalisation": dict(normalisation or {}),
        "genzoo_version": __version__,
        "step": int(step),
        "components": components,
    }
