"""Feature networks: training, safetensors round trip, autoencoder for unlabelled volumes, CLI."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from genzoo.errors import CheckpointError
from genzoo_metrics.classifier import (
    accuracy,
    extract_features,
    load_feature_net,
    read_metadata,
    reconstruction_mse,
    resolve_feature_net,
    save_feature_net,
    train_feature_net,
)


def _stripes(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Two classes: horizontal or vertical stripes, with noise."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 2, (n,), generator=g)
    stripes = (torch.arange(16) % 4 < 2).float() * 2 - 1
    horizontal = stripes[:, None].expand(16, 16)
    images = torch.where(labels[:, None, None, None] == 0, horizontal, horizontal.T).clone()
    return images + 0.3 * torch.randn(n, 1, 16, 16, generator=g), labels


def test_classifier_learns_and_round_trips_through_safetensors(tmp_path) -> None:
    images, labels = _stripes(200, 0)
    net = train_feature_net(images, labels, epochs=3, batch_size=32, seed=0)
    test_images, test_labels = _stripes(100, 1)
    assert accuracy(net, test_images, test_labels) >= 0.95
    features = extract_features(net, test_images)
    assert features.shape == (100, 84)
    # Features are scaled to unit root-mean-square on the training images.
    assert float(extract_features(net, images).pow(2).mean().sqrt()) == pytest.approx(1.0, rel=1e-4)
    path = save_feature_net(tmp_path / "net.safetensors", net, {"dataset": "stripes", "test_accuracy": 1.0})
    loaded, meta = load_feature_net(path)
    assert meta["dataset"] == "stripes" and json.loads(meta["data_shape"]) == [1, 16, 16]
    assert torch.allclose(extract_features(loaded, test_images), features, atol=1e-6)


def _balls(n: int, dims: int, seed: int) -> torch.Tensor:
    """Unlabelled images (dims=2) or volumes (dims=3): a bright disc or ball at a random place."""
    g = torch.Generator().manual_seed(seed)
    grid = torch.stack(torch.meshgrid(*[torch.arange(16.0)] * dims, indexing="ij"))
    centres = torch.randint(4, 12, (n, dims) + (1,) * dims, generator=g).float()
    return (((grid - centres) ** 2).sum(1, keepdim=True) < 16).float() * 2 - 1


def test_autoencoder_learns_unlabelled_slices() -> None:
    slices = _balls(64, 2, seed=2)
    net = train_feature_net(slices, None, epochs=40, batch_size=16, lr=3e-3, max_shift=0)
    assert net.kind == "autoencoder"
    target = net.thumbnail(slices)
    baseline = float(((target - target.mean(0)) ** 2).mean())  # predicting the mean image
    assert reconstruction_mse(net, slices) < 0.6 * baseline


def test_autoencoder_builds_for_volumes() -> None:
    volumes = _balls(8, 3, seed=3)
    net = train_feature_net(volumes, None, epochs=1, batch_size=4, max_shift=1)
    assert extract_features(net, volumes).shape == (8, 84)
    assert net(volumes).shape == (8, 16**3)


def test_missing_or_foreign_files_are_clear_errors(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GENZOO_CACHE_DIR", str(tmp_path))
    with pytest.raises(CheckpointError, match="train one with"):
        read_metadata(tmp_path / "absent.safetensors")
    with pytest.raises(CheckpointError, match="genzoo train-classifier --dataset fashion-mnist"):
        resolve_feature_net("", "fashion-mnist")
    assert resolve_feature_net("", "mnist").name == "lenet-mnist5k.safetensors"
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(1)}, str(tmp_path / "other.safetensors"), metadata={"format": "something"})
    with pytest.raises(CheckpointError, match="not a genzoo feature network"):
        read_metadata(tmp_path / "other.safetensors")


def test_train_classifier_command(tmp_path, metrics_registry, monkeypatch) -> None:
    from genzoo.cli import build_app

    monkeypatch.setenv("GENZOO_CACHE_DIR", str(tmp_path / "home"))
    result = CliRunner().invoke(
        build_app(metrics_registry.host),
        [
            "train-classifier",
            "--dataset",
            "mnist5k",
            "--split",
            "test",
            "--eval-split",
            "train",
            "--epochs",
            "2",
            "--lr",
            "0.005",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout[result.stdout.index("{") :])
    path = tmp_path / "home" / "feature-nets" / "mnist5k.safetensors"
    assert data["path"] == str(path) and path.is_file()
    meta = read_metadata(path)
    assert meta["split"] == "test" and meta["eval_split"] == "train"
    assert 0.2 < float(meta["test_accuracy"]) <= 1.0  # chance is 0.1; two epochs on 500 digits reach about 0.33
