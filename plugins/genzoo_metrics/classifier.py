"""Feature networks for FID/KID (and MMD on features): a LeNet-5 classifier for labelled data, a small
autoencoder for unlabelled data, stored as safetensors with their provenance in the metadata.

LeNet-5 (REFERENCE §3.3): conv 5x5 (6, padding 2) → ReLU → max-pool 2 → conv 5x5 (16) → ReLU →
max-pool 2 → adaptive average pool to 5 px per axis → fc 120 → ReLU → fc 84 → ReLU → fc classes.
The features are the 84-d penultimate activations (TTUR issue #24: "the statistics of one of the
last layers"), divided by one fixed ``feature_scale``: their root-mean-square on the training images,
stored in the file. The division makes a·b/d about 1, the regime KID's cubic kernel (a·b/d + 1)³ was
designed for with Inception features; raw LeNet features (RMS about 4.6) inflate KID's value and
variance by orders of magnitude. FID scales by 1/feature_scale², nothing else changes. The trunk
is dimension-generic: Conv3d/MaxPool3d for (C, D, H, W) volumes.

Unlabelled data (Pancreas-CT has no labels): the same trunk encodes to an 84-d code, and a linear
decoder reconstructs a 16-px-per-axis thumbnail of the input (tanh, MSE). We chose an autoencoder
over a slice-position regressor because it needs nothing but the images, works for slices and
volumes alike, and its code must describe the whole image, not just where in the body it is.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genzoo.errors import CheckpointError, ConfigError

FORMAT = "genzoo-feature-net/1"
FEATURE_DIM = 84
THUMBNAIL = 16


class LeNetTrunk(nn.Module):
    """Convolutions and the two hidden fully connected layers; returns the 84-d features."""

    def __init__(self, data_shape: tuple[int, ...]) -> None:
        super().__init__()
        spatial = len(data_shape) - 1
        if spatial not in (2, 3):
            raise ConfigError(f"feature networks take (C, H, W) or (C, D, H, W) data, got {data_shape}")
        conv = nn.Conv2d if spatial == 2 else nn.Conv3d
        pool = nn.MaxPool2d if spatial == 2 else nn.MaxPool3d
        adaptive = nn.AdaptiveAvgPool2d if spatial == 2 else nn.AdaptiveAvgPool3d
        self.conv = nn.Sequential(
            conv(data_shape[0], 6, 5, padding=2), nn.ReLU(), pool(2),
            conv(6, 16, 5), nn.ReLU(), pool(2),
            adaptive(5),
        )  # fmt: skip
        self.fc = nn.Sequential(nn.Linear(16 * 5**spatial, 120), nn.ReLU(), nn.Linear(120, FEATURE_DIM), nn.ReLU())

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(self.conv(x).flatten(1))


class FeatureNet(nn.Module):
    """A LeNet classifier (``kind="classifier"``) or thumbnail autoencoder (``kind="autoencoder"``)."""

    def __init__(self, data_shape: tuple[int, ...], kind: str = "classifier", num_classes: int = 10) -> None:
        super().__init__()
        if kind not in ("classifier", "autoencoder"):
            raise ConfigError(f"feature network kind must be classifier or autoencoder, got {kind!r}")
        self.data_shape = tuple(int(d) for d in data_shape)
        self.kind = kind
        self.num_classes = num_classes
        self.num_features = FEATURE_DIM  # torchmetrics' custom-extractor protocol
        self.feature_scale = 1.0
        self.trunk = LeNetTrunk(self.data_shape)
        spatial = len(self.data_shape) - 1
        out = num_classes if kind == "classifier" else self.data_shape[0] * THUMBNAIL**spatial
        self.head = nn.Linear(FEATURE_DIM, out)

    def features(self, x: Tensor) -> Tensor:
        """(N, 84) penultimate activations of images in [-1, 1], divided by ``feature_scale``."""
        return self.trunk(x.float()) / self.feature_scale

    def forward(self, x: Tensor) -> Tensor:
        """Class logits (classifier) or the flattened thumbnail reconstruction (autoencoder)."""
        return self.head_output(self.features(x))

    def head_output(self, features: Tensor) -> Tensor:
        """The head applied to :meth:`features` output. The head was trained on the raw trunk
        activations (``feature_scale`` is fixed after training), so the scale is undone first."""
        out = self.head(features * self.feature_scale)
        return out if self.kind == "classifier" else torch.tanh(out)

    def thumbnail(self, x: Tensor) -> Tensor:
        """The autoencoder's target: ``x`` average-pooled to 16 px per axis, flattened."""
        pool = F.adaptive_avg_pool2d if x.dim() == 4 else F.adaptive_avg_pool3d
        return pool(x.float(), THUMBNAIL).flatten(1)


def save_feature_net(path: str | Path, net: FeatureNet, meta: dict[str, Any]) -> Path:
    """Write weights and string metadata (provenance, accuracy) to one safetensors file."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {
        "format": FORMAT,
        "kind": net.kind,
        "data_shape": json.dumps(list(net.data_shape)),
        "num_classes": str(net.num_classes),
        "feature_dim": str(FEATURE_DIM),
        "feature_scale": repr(float(net.feature_scale)),
    }
    header.update({key: value if isinstance(value, str) else json.dumps(value) for key, value in meta.items()})
    state = {key: value.detach().contiguous().cpu() for key, value in net.state_dict().items()}
    tmp = path.with_name(path.name + ".tmp")
    save_file(state, str(tmp), metadata=header)
    tmp.replace(path)
    return path


def read_metadata(path: str | Path) -> dict[str, str]:
    """The string metadata of a feature-network file, checked for the format tag."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"feature network {path} does not exist; train one with `genzoo train-classifier`")
    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = handle.metadata() or {}
    except Exception as exc:  # safetensors raises its own error types for corrupt headers
        raise CheckpointError(f"{path} is not a safetensors file: {exc}") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is not a genzoo feature network (format {meta.get('format')!r}, expected {FORMAT})"
        )
    return meta


def load_feature_net(path: str | Path, device: str = "cpu") -> tuple[FeatureNet, dict[str, str]]:
    """Load a frozen feature network in eval mode and its metadata."""
    from safetensors.torch import load_file

    meta = read_metadata(path)
    net = FeatureNet(tuple(json.loads(meta["data_shape"])), meta["kind"], int(meta["num_classes"]))
    net.load_state_dict(load_file(str(path)))
    net.feature_scale = float(meta.get("feature_scale", 1.0))
    net.requires_grad_(False)
    return net.to(device).eval(), meta


@torch.no_grad()
def extract_features(net: FeatureNet, images: Tensor, batch_size: int = 500) -> Tensor:
    """Features of ``images`` (on the network's device), returned on the CPU as float32."""
    device = next(net.parameters()).device
    if tuple(images.shape[1:]) != net.data_shape:
        raise ConfigError(
            f"the feature network expects images of shape {net.data_shape}, got {tuple(images.shape[1:])}; "
            "train one for this data set with `genzoo train-classifier`"
        )
    out = [net.features(images[i : i + batch_size].to(device)).float().cpu() for i in range(0, len(images), batch_size)]
    return torch.cat(out)


@torch.no_grad()
def accuracy(net: FeatureNet, images: Tensor, labels: Tensor, batch_size: int = 500) -> float:
    """Top-1 accuracy of a classifier on labelled images."""
    device = next(net.parameters()).device
    correct = 0
    for i in range(0, len(images), batch_size):
        logits = net(images[i : i + batch_size].to(device))
        correct += int((logits.argmax(1).cpu() == labels[i : i + batch_size]).sum())
    return correct / max(len(images), 1)


@torch.no_grad()
def reconstruction_mse(net: FeatureNet, images: Tensor, batch_size: int = 200) -> float:
    """Mean squared error of an autoencoder's thumbnails."""
    device = next(net.parameters()).device
    total, count = 0.0, 0
    for i in range(0, len(images), batch_size):
        x = images[i : i + batch_size].to(device)
        target = net.thumbnail(x)
        total += float(F.mse_loss(net(x), target, reduction="sum"))
        count += target.numel()
    return total / max(count, 1)


def _augment(x: Tensor, generator: torch.Generator, max_shift: float) -> Tensor:
    """Random per-sample affine jitter: shift up to ``max_shift`` px, scale 0.9-1.1, and (2D)
    rotation up to 10 degrees. Pixels moved in from outside take the background value -1."""
    if max_shift <= 0:
        return x
    n, spatial = len(x), x.dim() - 2
    size = torch.tensor(x.shape[2:][::-1], dtype=x.dtype)  # grid coordinates are (x, y[, z])
    shift = (torch.rand(n, spatial, generator=generator) * 2 - 1) * max_shift * 2 / size
    scale = 0.9 + 0.2 * torch.rand(n, 1, generator=generator)
    linear = torch.eye(spatial).expand(n, spatial, spatial) / scale[:, :, None]
    if spatial == 2:
        angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(10)
        cos, sin = torch.cos(angle), torch.sin(angle)
        rotation = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)
        linear = linear @ rotation
    theta = torch.cat([linear, shift[:, :, None]], 2).to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x + 1, grid.to(x.device), align_corners=False) - 1


def train_feature_net(
    images: Tensor,
    labels: Tensor | None,
    *,
    epochs: int = 30,
    batch_size: int = 64,
    lr: float = 1e-3,
    max_shift: float = 2.0,
    seed: int = 0,
    device: str = "cpu",
    progress: Any = None,
) -> FeatureNet:
    """Train a classifier (``labels`` given) or autoencoder (``labels`` None) with Adam.

    Training uses random affine jitter (:func:`_augment`; ``max_shift=0`` turns it off), which
    helps 5,000-image training sets, and a cosine learning-rate decay.
    """
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    kind = "classifier" if labels is not None else "autoencoder"
    num_classes = int(labels.max()) + 1 if labels is not None else 0
    net = FeatureNet(tuple(images.shape[1:]), kind, num_classes).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    steps_per_epoch = math.ceil(len(images) / batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs * steps_per_epoch)
    net.train()
    for epoch in range(epochs):
        order = torch.randperm(len(images), generator=generator)
        for start in range(0, len(images), batch_size):
            index = order[start : start + batch_size]
            x = _augment(images[index].float(), generator, max_shift).to(device)
            out = net(x)
            if labels is not None:
                loss = F.cross_entropy(out, labels[index].to(device))
            else:
                loss = F.mse_loss(out, net.thumbnail(x))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        if progress is not None:
            progress(epoch + 1, epochs, float(loss.detach()))
    net.requires_grad_(False)
    net.eval()
    raw = extract_features(net, images)
    net.feature_scale = float(raw.pow(2).mean().sqrt()) or 1.0
    return net


# --- locating feature networks and sharing their features across metrics --------------------------
WEIGHTS_DIR = Path(__file__).parent / "weights"
SHIPPED = {"mnist5k": "lenet-mnist5k.safetensors", "mnist": "lenet-mnist5k.safetensors"}


def user_weights_dir() -> Path:
    """Where ``genzoo train-classifier`` writes by default: ``$GENZOO_CACHE_DIR/feature-nets``."""
    import os

    return Path(os.environ.get("GENZOO_CACHE_DIR", "~/.cache/genzoo")).expanduser() / "feature-nets"


def resolve_feature_net(path: str, dataset: str | None) -> Path:
    """An explicit path, else the network shipped for ``dataset``, else one the user trained."""
    if path:
        return Path(path).expanduser()
    candidates = []
    if dataset in SHIPPED:
        candidates.append(WEIGHTS_DIR / SHIPPED[dataset])
    if dataset:
        candidates.append(user_weights_dir() / f"{dataset}.safetensors")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise CheckpointError(
        f"no feature network for data set {dataset or '(unknown)'}; train one with "
        f"`genzoo train-classifier --dataset {dataset or 'NAME'}` or pass --set classifier=PATH"
    )


def context_feature_net(context: Any, path: str) -> FeatureNet:
    """The feature network for the context's data set (or ``path``), loaded once per context."""
    resolved = resolve_feature_net(path, context.dataset)
    return context.cached(("feature-net", str(resolved)), lambda: load_feature_net(resolved, str(context.device))[0])


def context_features(context: Any, path: str, which: str) -> Tensor | None:
    """Features of the context's ``real``, ``generated`` or ``reference`` images, computed once."""
    resolved = resolve_feature_net(path, context.dataset)

    def compute() -> Tensor | None:
        images = getattr(context, which)
        if images is None:
            return None
        return extract_features(context_feature_net(context, path), images, context.batch_size)

    return context.cached(("features", str(resolved), which), compute)
