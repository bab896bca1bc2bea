"""Training state for exact resume, stored as safetensors (never pickle).

Everything a resumed run needs to continue bit-for-bit: each player's optimiser (tensors as
tensors, hyper-parameters as JSON), grad-scaler state, the torch / CUDA / Python / NumPy RNG
states, the step, the data stream position and the fixed sample noise. Tensors are flattened
into names like ``optim/critic/state/3/exp_avg``; the rest goes into the JSON metadata.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genzoo.checkpoint import atomic_write
from genzoo.errors import CheckpointError
from genzoo.safejson import loads_bounded
from genzoo.tensorfile import MAX_HEADER_BYTES, read_header, write_safetensors

STATE_FORMAT = "genzoo-train-state/1"
STATE_FILENAME = "trainer_state.safetensors"


def _flatten_optimizer(prefix: str, state_dict: dict[str, Any], tensors: dict, info: dict) -> None:
    plain_state: dict[str, dict[str, Any]] = {}
    for index, entries in state_dict["state"].items():
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}/state/{index}/{key}"] = value.detach().cpu().contiguous()
            else:
                plain_state.setdefault(str(index), {})[key] = value
    info[prefix] = {"param_groups": state_dict["param_groups"], "plain_state": plain_state}


def _unflatten_optimizer(prefix: str, tensors: dict[str, torch.Tensor], info: dict) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, tensor in tensors.items():
        if name.startswith(prefix + "/state/"):
            index, key = name[len(prefix) + 7 :].split("/", 1)
            state.setdefault(int(index), {})[key] = tensor
    for index, entries in info[prefix]["plain_state"].items():
        state.setdefault(int(index), {}).update(entries)
    return {"state": state, "param_groups": info[prefix]["param_groups"]}


def capture_rng() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The current RNG states of torch (CPU and CUDA), Python and NumPy."""
    tensors = {"rng/torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng/cuda/{i}"] = state
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    tensors["rng/numpy"] = torch.from_numpy(np.asarray(keys, dtype=np.int64))
    info = {
        "python": [random.getstate()[0], list(random.getstate()[1]), random.getstate()[2]],
        "numpy": [kind, int(pos), int(has_gauss), float(cached)],
    }
    return tensors, info


def restore_rng(tensors: dict[str, torch.Tensor], info: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["rng/torch"])
    cuda_states = [tensors[k] for k in sorted(k for k in tensors if k.startswith("rng/cuda/"))]
    if cuda_states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda_states[: torch.cuda.device_count()])
    version, state, gauss = info["python"]
    random.setstate((version, tuple(state), gauss))
    kind, pos, has_gauss, cached = info["numpy"]
    keys = tensors["rng/numpy"].numpy().astype(np.uint32)
    np.random.set_state((kind, keys, pos, has_gauss, cached))


def save_train_state(
    path: str | Path,
    *,
    optimizers: dict[str, torch.optim.Optimizer],
    scalers: dict[str, Any],
    step: int,
    data_position: dict[str, int],
    fixed_noise: torch.Tensor,
    extra: dict[str, Any] | None = None,
    live_weights: dict[str, torch.Tensor] | None = None,
    replaced_by_fit: dict[str, dict[str, torch.Tensor]] | None = None,
) -> Path:
    """Write the training state atomically. ``live_weights``: the weights training continues from, when
    the model file holds others (their moving average, :mod:`genzoo.averaging`). ``replaced_by_fit``:
    ``{"live": ..., "average": ...}``, the tensors a prior fit off the checkpoint schedule replaced, which
    a resume puts back."""
    tensors: dict[str, torch.Tensor] = {"fixed_noise": fixed_noise.detach().cpu().contiguous()}
    for name, tensor in (live_weights or {}).items():
        tensors[f"live/{name}"] = tensor.detach().cpu().contiguous()
    for copy, replaced in (replaced_by_fit or {}).items():
        for name, tensor in replaced.items():
            tensors[f"prefit/{copy}/{name}"] = tensor.detach().cpu().contiguous()
    optim_info: dict[str, Any] = {}
    for name, optimizer in optimizers.items():
        _flatten_optimizer(f"optim/{name}", optimizer.state_dict(), tensors, optim_info)
    rng_tensors, rng_info = capture_rng()
    tensors.update(rng_tensors)
    metadata = {
        "format": STATE_FORMAT,
        "step": str(step),
        "data_position": json.dumps(data_position),
        "optimizers": json.dumps(optim_info),
        "scalers": json.dumps({name: scaler.state_dict() for name, scaler in scalers.items()}),
        "rng": json.dumps(rng_info),
        "extra": json.dumps(extra or {}),
    }
    return atomic_write(path, lambda tmp: write_safetensors(tmp, tensors, metadata))


def load_train_state(path: str | Path) -> dict[str, Any]:
    """Read a training state written by :func:`save_train_state`; anything malformed is one line."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    _, metadata = read_header(path)
    if metadata.get("format") != STATE_FORMAT:
        raise CheckpointError(f"{path} is not a genzoo training state ({STATE_FORMAT})")

    def field(key: str) -> Any:
        if key not in metadata:
            raise CheckpointError(f"{path} lacks training-state field {key!r}")
        return loads_bounded(metadata[key], f"{path}: field {key!r}", CheckpointError, max_bytes=MAX_HEADER_BYTES)

    try:
        tensors = load_file(str(path), device="cpu")
        optim_info = field("optimizers")
        state = {
            "step": int(field("step")),
            "data_position": field("data_position"),
            "optimizers": {key.split("/", 1)[1]: _unflatten_optimizer(key, tensors, optim_info) for key in optim_info},
            "scalers": field("scalers"),
            "rng_tensors": {k: v for k, v in tensors.items() if k.startswith("rng/")},
            "rng_info": field("rng"),
            "fixed_noise": tensors["fixed_noise"],
            "live": {k[len("live/"):]: v for k, v in tensors.items() if k.startswith("live/")},
            "replaced_by_fit": {copy: {k[len(f"prefit/{copy}/"):]: v for k, v in tensors.items()
                                       if k.startswith(f"prefit/{copy}/")} for copy in ("live", "average")},
            "extra": field("extra"),
        }
        int(state["data_position"]["epoch"]), int(state["data_position"]["batch"])
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{path} could not be read as safetensors: {exc}") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise CheckpointError(f"{path} is not a well-formed training state ({type(exc).__name__}: {exc})") from None
    return state
