"""genzoo from Python (notebooks, scripts): load, sample, encode, reconstruct and train in a few lines.

    import genzoo

    model = genzoo.load("gvae-mnist5k")             # a registry name, a run folder or a .safetensors file
    images = genzoo.sample(model, 16, seed=0)       # (16, 1, 28, 28) in [-1, 1]
    codes = genzoo.encode(model, images)            # the posterior means
    again = genzoo.reconstruct(model, images)

    result = genzoo.train("vae", steps=500)         # on the default mnist5k, into runs/...
    result = genzoo.train("gvae", my_tensor, steps=500, out="runs/mine")   # (N, C, H, W) in [-1, 1]
    result.model, result.run_dir

These are the CLI's code paths (`genzoo sample`, `genzoo run`), not a second implementation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import Tensor
from torch.utils.data import Dataset

from genzoo.data import ImageDataset, TensorImageDataset
from genzoo.errors import ConfigError, GenzooError

CUSTOM_DATASET = "custom"


@dataclass
class TrainResult:
    """What :func:`train` returns: the trained model (in eval mode) and where its run folder is."""

    model: Any
    run_dir: Path
    step: int
    model_path: Path


def load(reference: str | Path, device: str = "cpu", overrides: Sequence[str] = ()) -> Any:
    """The model of a checkpoint file, a run or model folder, or a registry name ``NAME[@version]``.

    The model is in eval mode; its checkpoint metadata (model, data set, config, step, ...) is in
    ``model.genzoo_meta``. ``overrides`` (``key=value`` strings, as ``genzoo sample --set``) change the model's
    sampling settings (``genzoo info NAME``), e.g. ``["refine_steps=0"]`` for wgan-gp's G(z) as trained;
    ``genzoo_meta["overrides"]`` lists them.
    """
    from genzoo.checkpoint import load_model
    from genzoo.sharing import resolve_checkpoint_path
    from genzoo.trainer import resolve_device

    if isinstance(overrides, str):  # one setting given bare, not in a list
        overrides = [overrides]
    path = resolve_checkpoint_path(str(reference))
    model, meta = load_model(path, device=str(resolve_device(device)), overrides=overrides, sampling_only=True)
    model.genzoo_meta = meta
    return model


def _model(model: Any) -> Any:
    return load(model) if isinstance(model, (str, Path)) else model


def _device_of(model: Any) -> torch.device:
    return next(model.parameters()).device


def sample(model: Any, n: int = 64, seed: int = 0) -> Tensor:
    """``n`` images in [-1, 1] from the model's prior (``model`` may be a path or registry name)."""
    model = _model(model)
    if n < 1:
        raise ConfigError("n must be at least 1")
    with torch.no_grad():
        return model.sample(n, torch.Generator().manual_seed(seed)).float().cpu()


def _needs_encoder(model: Any) -> None:
    if not model.has_encoder:
        raise GenzooError(f"model {getattr(model, 'genzoo_meta', {}).get('model', type(model).__name__)} has no encoder")


def encode(model: Any, images: Tensor) -> Tensor:
    """The posterior means of q(z|x) for ``images`` in [-1, 1] of the model's data shape."""
    model = _model(model)
    _needs_encoder(model)
    with torch.no_grad():
        mu, _ = model.encode(images.to(_device_of(model)).float())
    return mu.cpu()


def reconstruct(model: Any, images: Tensor) -> Tensor:
    """Decoded posterior means of ``images`` (in [-1, 1])."""
    model = _model(model)
    _needs_encoder(model)
    return model.reconstruct(images.to(_device_of(model)).float()).float().cpu()


class _WrappedDataset(ImageDataset):
    """A user's torch Dataset whose items are images (or ``(image, label, ...)`` tuples) in [-1, 1]."""

    def __init__(self, dataset: Dataset, name: str) -> None:
        self.dataset = dataset
        self.name = name
        self.normalisation = {"range": [-1.0, 1.0], "source": "user data"}
        if len(dataset) == 0:  # type: ignore[arg-type]
            raise ConfigError("the data set to train on is empty")
        first = self[0]
        if first.dim() not in (3, 4):
            raise ConfigError(f"data set items must be (C, H, W) or (C, D, H, W) tensors, got shape {tuple(first.shape)}")
        self.shape = tuple(first.shape)

    def __len__(self) -> int:
        return len(self.dataset)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> Tensor:
        item = self.dataset[index]
        if isinstance(item, (tuple, list)):
            item = item[0]
        if not isinstance(item, Tensor):
            raise ConfigError(f"data set items must be tensors (or tuples starting with one), got {type(item).__name__}")
        return item.float()


def as_image_dataset(data: Tensor | Dataset, name: str = CUSTOM_DATASET) -> ImageDataset:
    """A tensor ``(N, C, H, W)`` / ``(N, C, D, H, W)`` or a torch Dataset as a genzoo data set.

    Float tensors must already be in [-1, 1]; a uint8 tensor (0-255) is scaled as ``x / 127.5 - 1``.
    """
    if isinstance(data, ImageDataset):
        return data
    if isinstance(data, Tensor):
        if data.dim() == 3:
            raise ConfigError(f"images of shape {tuple(data.shape)} need a channel axis: use data.unsqueeze(1)")
        if data.dim() not in (4, 5):
            raise ConfigError(f"images must be (N, C, H, W) or (N, C, D, H, W), got {tuple(data.shape)}")
        if data.dtype == torch.uint8:
            return TensorImageDataset(data.float() / 127.5 - 1, name=name,
                                      normalisation={"source": "uint8 0-255", "scale": "x / 127.5 - 1", "range": [-1.0, 1.0]})
        low, high = float(data.min()), float(data.max())
        if low < -1.0001 or high > 1.0001:
            raise ConfigError(f"images must be in [-1, 1] (these span {low:.3g}..{high:.3g}): use x * 2 - 1 for [0, 1] data")
        return TensorImageDataset(data.float(), name=name, normalisation={"range": [-1.0, 1.0], "source": "user data"})
    if isinstance(data, Dataset):
        return _WrappedDataset(data, name)
    raise ConfigError(f"data must be a data set name, a tensor or a torch Dataset, got {type(data).__name__}")


def train(
    model: str,
    data: str | Tensor | Dataset | None = None,
    *,
    steps: int | None = None,
    batch_size: int | None = None,
    out: str | Path | None = None,
    config: dict[str, Any] | None = None,
    data_config: dict[str, Any] | None = None,
    device: str = "auto",
    seed: int | None = None,
    progress: bool | str = "auto",
    **train_settings: Any,
) -> TrainResult:
    """Train ``model`` (a name from ``genzoo list models``) and return the model and its run folder.

    Args:
        model: the model to train, e.g. ``"gvae"``.
        data: a data set name (default: mnist5k), or your own images: a tensor ``(N, C, H, W)`` in
            [-1, 1] (or uint8) or a torch ``Dataset`` of such image tensors (or ``(image, label)``).
        steps, batch_size, seed, device: as ``genzoo run`` takes them.
        out: the run folder (default ``runs/MODEL-DATA-TIME``); one holding a checkpoint is resumed.
        config: model settings (``{"latent_dim": 64, "loss": {"adversarial": "hinge"}}``).
        data_config: the named data set's settings.
        progress: ``auto`` (a bar in a terminal or notebook, plain lines elsewhere), ``lines`` or ``none``.
        **train_settings: any other ``train.*`` setting (``log_every``, ``sample_every``, ...; see
            ``genzoo info train``).
    """
    from genzoo.runconfig import RunConfig, TrainConfig, resolve_run_config
    from genzoo.trainer import Trainer

    custom = None if data is None or isinstance(data, str) else as_image_dataset(data)
    unknown = sorted(set(train_settings) - set(TrainConfig.__dataclass_fields__))
    if unknown:
        raise ConfigError(f"unknown train setting {unknown[0]!r} (see `genzoo info train`)")
    flags = {"steps": steps, "batch_size": batch_size, "seed": seed, "device": device, **train_settings}
    values: dict[str, Any] = {"model_config": dict(config or {}), "data_config": dict(data_config or {})}
    if custom is not None:
        values["dataset"] = custom.name
    elif isinstance(data, str):
        values["dataset"] = data
    run_config: RunConfig = resolve_run_config(model=model, flags=flags, settings=values)
    run_dir = Path(out) if out is not None else (
        Path("runs") / f"{run_config.model.replace(':', '-')}-{run_config.dataset.replace(':', '-')}-"
        f"{time.strftime('%Y%m%d-%H%M%S')}")
    result = Trainer(run_config, run_dir, progress=progress, dataset=custom).fit()
    trained = load(result.model_path)
    return TrainResult(trained, result.run_dir, result.step, result.model_path)
