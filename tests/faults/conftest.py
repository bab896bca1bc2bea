"""Fixtures of the fault campaign: a finished tiny run with two checkpoints, the CLI over it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from genzoo.registry import Registry, get_registry, set_registry
from tests.sharing.conftest import tiny_host

TINY_RUN = ["run", "tiny-gan", "--dataset", "tiny-blobs", "--batch-size", "8", "--no-progress",
            "--set", "hidden=8", "--set", "train.checkpoint_every=2", "--set", "train.log_every=1",
            "--set", "train.sample_every=2", "--set", "train.grid_size=4"]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/faults/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.faults)


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory) -> Path:
    """A 4-step tiny-gan run with checkpoints at steps 2 and 4; copy it before changing it."""
    import torch

    from genzoo.runconfig import RunConfig, TrainConfig
    from genzoo.trainer import train

    previous = set_registry(Registry(tiny_host()))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        config = RunConfig(model="tiny-gan", dataset="tiny-blobs", model_config={"hidden": 8},
                           train=TrainConfig(steps=4, batch_size=8, device="cpu", checkpoint_every=2, log_every=1,
                                             sample_every=2, grid_size=4))
        result = train(config, tmp_path_factory.mktemp("faults") / "run")
    finally:
        torch.set_num_threads(threads)
        set_registry(previous)
    return result.run_dir


@pytest.fixture
def run(finished_run, tmp_path) -> Path:
    return Path(shutil.copytree(finished_run, tmp_path / "run"))


@pytest.fixture
def cli():
    from genzoo.cli import build_app

    previous = get_registry.__globals__["_REGISTRY"]
    yield build_app(tiny_host())
    set_registry(previous)
