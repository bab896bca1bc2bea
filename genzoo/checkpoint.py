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

import errno
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from genzoo.errors import CheckpointError, ConfigError, GenzooError, OutputError
from genzoo.safejson import MAX_DEPTH, loads_bounded, printable
from genzoo.tensorfile import FLOAT_DTYPES, MAX_HEADER_BYTES, read_header, write_safetensors

MODEL_FORMAT = "genzoo-model/1"
MODEL_FILENAME = "model.safetensors"
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
    untouched and removes the temporary file; a disk error is one :class:`OutputError` line.
    """
    path = Path(path)
    if (path.exists() or path.is_symlink()) and not path.is_file():
        # The rename below would replace a device node (/dev/full, /dev/null as root), a pipe or a
        # folder's entry with our file: refuse instead.
        raise OutputError(f"could not write {path}: it exists and is not a regular file; write elsewhere")
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # e.g. the parent is a file (ENOTDIR): there is no temporary file to remove
            pass
        if isinstance(exc, GenzooError) or not is_write_failure(exc):
            raise
        raise OutputError(f"could not write {path}: {describe_write_failure(exc)}") from None
    fsync_dir(path.parent)
    return path


def is_write_failure(exc: BaseException) -> bool:
    """An OSError, or a safetensors error that wraps one (a full disk inside ``save_file``)."""
    return isinstance(exc, OSError) or type(exc).__name__ == "SafetensorError"


def describe_write_failure(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        hint = {errno.ENOSPC: "; free some space or write elsewhere", errno.EROFS: "; write elsewhere",
                errno.EACCES: "; write elsewhere", errno.EDQUOT: "; free some space or write elsewhere",
                errno.EFBIG: "; raise the file-size limit (ulimit -f) or write elsewhere",
                errno.ENOTDIR: "; a part of the path is a file, not a folder",
                errno.EEXIST: "; a part of the path is a file, or the target already exists"}
        return f"{exc.strerror or exc}{hint.get(exc.errno, '')}"
    return printable(str(exc))


# --- reading the header (validated in genzoo.tensorfile) ----------------------------------------
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
        if key in _JSON_KEYS:
            value = loads_bounded(value, f"{path}: metadata field {printable(key, 40)!r}", CheckpointError,
                                  max_bytes=MAX_HEADER_BYTES, max_depth=MAX_DEPTH)
        meta[key] = value
    _check_meta_types(meta, path)
    return meta


_META_TYPES = {"config": dict, "dataset_config": dict, "data_shape": list, "normalisation": dict, "step": int}


def _check_meta_types(meta: dict[str, Any], path: Path) -> None:
    for key, kind in _META_TYPES.items():
        if not isinstance(meta[key], kind) or isinstance(meta[key], bool):
            raise CheckpointError(f"{path}: metadata field {key!r} must be a JSON {kind.__name__}")
    shape = meta["data_shape"]
    if not 1 <= len(shape) <= 4 or not all(isinstance(d, int) and not isinstance(d, bool) and 1 <= d <= 65536 for d in shape):
        raise CheckpointError(f"{path}: metadata data_shape {printable(shape, 60)} is not 1 to 4 sizes between 1 and 65536")
    if meta["step"] < 0:
        raise CheckpointError(f"{path}: metadata step must be >= 0")


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
    """Write a self-describing model checkpoint atomically (the same model gives the same bytes)."""
    metadata = encode_metadata(meta)
    tensors = state_tensors(model)
    return atomic_write(path, lambda tmp: write_safetensors(tmp, tensors, metadata))


def optional_prefixes(model: Any) -> tuple[str, ...]:
    """The model's ``optional_state``: state-dict prefixes an older checkpoint may lack."""
    return tuple(getattr(model, "optional_state", ()) or ())


def refitted_prefixes(model: Any) -> tuple[str, ...]:
    """The model's ``refitted_state``: the optional state a prior refit rewrites (all of it unless it says)."""
    refitted = getattr(model, "refitted_state", None)
    return optional_prefixes(model) if refitted is None else tuple(refitted)


def load_weights(model: Any, state: dict[str, Any], context: str) -> None:
    """Load a state dict exactly; a missing, extra, mis-shaped or mis-typed tensor is one CheckpointError line."""
    # State a model added after older checkpoints were written (its optional_state prefixes) may be
    # absent from a file; it keeps its initial value (e.g. an unfitted sampling prior: N(0, I)).
    optional = optional_prefixes(model)
    may_lack = lambda key: key.startswith(optional) and key not in state  # noqa: E731
    found = {k: (str(v.dtype), v.is_floating_point(), list(v.shape)) for k, v in state.items()}
    check_state(model.state_dict(), found, context, optional)
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as exc:
        detail = next((line.strip() for line in str(exc).splitlines() if "size mismatch" in line), str(exc).splitlines()[0])
        raise CheckpointError(f"{context}: {detail}") from None
    missing = [k for k in result.missing_keys if not may_lack(k)]
    if missing or result.unexpected_keys:
        raise CheckpointError(f"{context}: missing {missing[:3]}, unexpected {result.unexpected_keys[:3]}")


def check_state(
    expected: dict[str, Any], found: dict[str, tuple[str, bool, list[int]]], context: str, optional: tuple[str, ...] = ()
) -> None:
    """The file's tensors (``name -> (dtype, is_float, shape)``) are exactly the model's, float where it is;
    names starting with an ``optional`` prefix may be absent (state newer than the file)."""
    missing = [k for k in expected if k not in found and not k.startswith(optional)]
    unexpected = [printable(k, 60) for k in found if k not in expected]
    if missing or unexpected:
        raise CheckpointError(f"{context}: missing {missing[:3]}, unexpected {unexpected[:3]}")
    for key, tensor in expected.items():
        if key not in found:  # an optional tensor the file lacks
            continue
        dtype, is_float, shape = found[key]
        if list(tensor.shape) != list(shape):
            raise CheckpointError(
                f"{context}: size mismatch for {key}: the file has shape {list(shape)}, the model {list(tensor.shape)}"
            )
        if tensor.is_floating_point() and not is_float:
            raise CheckpointError(f"{context}: {key} is stored as {printable(dtype, 20)}, which cannot hold float weights")


def check_finite(state: dict[str, Any], context: str) -> None:
    """Refuse weights holding NaN or infinity (a diverged or tampered checkpoint)."""
    import torch

    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise CheckpointError(f"{context}: {len(bad)} weight tensor(s) hold NaN or infinity ({bad[0]}, ...); "
                              "the model diverged or the file was changed")


def _build_checked(registry: Any, entry: Any, meta: dict[str, Any], header: dict[str, Any], context: str,
                   refit_optional: bool = False) -> Any:
    """Build the model, but first on the meta device to compare its tensors with the header's without
    allocating anything, so a config asking for a 10^9-wide latent is refused instead of built."""
    from genzoo.sizes import meta_model

    def build() -> Any:
        return registry.build_model(entry.qualified_name, meta["config"], meta["data_shape"])

    skeleton = meta_model(build)
    if skeleton is not None:
        optional, refitted = optional_prefixes(skeleton), refitted_prefixes(skeleton)
        found = {k: (v["dtype"], v["dtype"] in FLOAT_DTYPES, v["shape"]) for k, v in header.items()
                 if not (refit_optional and k.startswith(refitted))}
        check_state(skeleton.state_dict(), found, context, optional)
    return build()


def _check_sampling_overrides(entry: Any, model: str, overrides: list[str]) -> None:
    from genzoo.config import sampling_settings

    allowed = sampling_settings(entry.spec.config_class())
    for item in overrides:
        key = item.partition("=")[0].strip()
        if key not in allowed:
            some = ", ".join(allowed) if allowed else "none"
            raise ConfigError(f"{key!r} is not a sampling setting of {model} (those it has: {some}); settings of "
                              "training apply when training, with genzoo run --set")


def load_model(path: str | Path, device: str = "cpu", registry: Any = None,
               overrides: Iterable[str] = (), refit_optional: bool = False,
               sampling_only: bool = False) -> tuple[Any, dict[str, Any]]:
    """Rebuild the model a checkpoint describes and load its weights; returns ``(model, meta)``.

    ``overrides`` (``key=value`` strings, as ``--set``) change the saved config before the rebuild; one
    that resizes a network is refused by the header check like any checkpoint that does not fit.
    ``sampling_only`` admits only the model's sampling settings (its ``doc(..., sampling=True)`` fields),
    so a setting that would change nothing when sampling is an error; ``meta["overrides"]`` lists them.
    ``refit_optional``: the caller refits the model's ``refitted_state`` (its ``optional_state`` unless it
    names less; ``genzoo fit-prior``), so the file's tensors under those prefixes are left out and settings
    may resize them."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from genzoo.registry import get_registry

    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILENAME
    meta = read_metadata(path)
    header, _ = read_header(path)
    registry = registry or get_registry()
    entry = registry.require(
        "model", meta["model"], meta["plugin"], needed_by=str(path),
        distribution=meta.get("plugin_distribution") or "", version=meta.get("plugin_version") or "",
    )
    overrides = list(overrides)
    if overrides:
        from genzoo.config import apply_overrides

        meta = {**meta, "config": apply_overrides(meta["config"], overrides)}
        if sampling_only:  # changed for this use of the file only: say so (fit-prior writes them into a new file)
            _check_sampling_overrides(entry, meta["model"], overrides)
            meta["overrides"] = overrides
    context = f"{path} does not fit model '{meta['model']}' of plugin {entry.plugin.name} {entry.plugin.version}"
    # The losses (and any other component) the model composes resolve to the plugins that
    # provided them when the checkpoint was written, not to whatever uses that name here.
    with registry.pinned(meta.get("components"), needed_by=str(path)):
        model = _build_checked(registry, entry, meta, header, context, refit_optional)
    try:
        state = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path} could not be read as safetensors: {printable(exc)}") from None
    check_finite(state, str(path))
    if refit_optional:
        refitted = refitted_prefixes(model)
        state = {k: v for k, v in state.items() if not k.startswith(refitted)}
    load_weights(model, state, context)
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
