"""Fixtures of the metrics tests: the real MNIST test split and tiny models with known answers."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_MNIST = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist"


@pytest.fixture
def mnist_test_dir() -> Path:
    """The folder with the real MNIST test split (t10k-*.gz); skipped where it is not present."""
    if not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"real MNIST test split not found in {SHARED_MNIST}")
    return SHARED_MNIST


@pytest.fixture
def metrics_registry():
    """A process-wide registry with the real metrics and datasets plugins plus tiny 28x28 models."""
    from genzoo.plugins import PluginHost
    from genzoo.registry import Registry, set_registry
    from tests.conftest import FakeEntryPoint

    host = PluginHost(
        [
            FakeEntryPoint("metrics", "genzoo_metrics.plugin", dist="genzoo", version="0.1.0"),
            FakeEntryPoint("datasets", "genzoo_datasets.plugin", dist="genzoo", version="0.1.0"),
            FakeEntryPoint("tinymodels", "tests.metrics.fake_plugin", dist="genzoo-tiny", version="0.0.1"),
        ],
        strict=True,
        disabled=(),
    )
    registry = Registry(host)
    previous = set_registry(registry)
    yield registry
    set_registry(previous)


@pytest.fixture
def tiny_checkpoint(tmp_path, metrics_registry):
    """Save an untrained tiny model as a genzoo checkpoint; returns ``make(model_name) -> path``."""
    import torch

    from genzoo.checkpoint import save_model

    def make(name: str) -> Path:
        torch.manual_seed(0)
        model = metrics_registry.build_model(name, None, (1, 28, 28))
        meta = {
            "model": name,
            "plugin": "tinymodels",
            "plugin_distribution": "genzoo-tiny",
            "plugin_version": "0.0.1",
            "config": {"latent_dim": 4},
            "dataset": "mnist5k",
            "dataset_config": {},
            "data_shape": [1, 28, 28],
            "normalisation": {},
            "genzoo_version": "0.1.0",
            "step": 0,
        }
        return save_model(tmp_path / f"{name}.safetensors", model, meta)

    return make
