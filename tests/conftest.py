"""Shared fixtures: fake entry points and distributions, and a registry over the test plugin."""

from __future__ import annotations

import os
import types
from pathlib import Path

import pytest

from genzoo.plugins import PluginHost
from genzoo.registry import Registry, set_registry

REPO = Path(__file__).resolve().parents[1]

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Each xdist worker is one process per core; more torch threads would only oversubscribe.
    import torch

    torch.set_num_threads(1)
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist"


class FakeDistribution:
    def __init__(self, name: str, version: str) -> None:
        self.metadata = {"Name": name}
        self.version = version


class FakeEntryPoint:
    """Quacks like importlib.metadata.EntryPoint; ``target`` is a module, a callable raising, or a path."""

    def __init__(self, name: str, target, dist: str = "genzoo-fake", version: str = "1.0") -> None:
        self.name = name
        self.target = target
        self.value = target if isinstance(target, str) else getattr(target, "__name__", "fake")
        self.group = "genzoo"
        self.dist = FakeDistribution(dist, version)

    def load(self):
        if isinstance(self.target, str):
            import importlib

            return importlib.import_module(self.target)
        if isinstance(self.target, types.ModuleType):
            return self.target
        return self.target()  # a callable standing for an import that raises


def make_module(name: str, **attrs) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    return module


@pytest.fixture
def fake_ep():
    return FakeEntryPoint


@pytest.fixture
def tiny_registry():
    """A registry holding only the test plugin (tiny-gan, tiny-blobs), installed process-wide."""
    host = PluginHost([FakeEntryPoint("tiny", "tests.fakes.tiny_plugin", dist="genzoo-tiny", version="0.0.1")],
                      strict=True, disabled=())
    registry = Registry(host)
    previous = set_registry(registry)
    yield registry
    set_registry(previous)


# --- the fault campaign's tally (tests/faults), summed over xdist workers ------------------------
def pytest_sessionfinish(session):
    from tests.faults.campaign import TALLY

    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["fault_tally"] = dict(TALLY)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    from tests.faults.campaign import TALLY

    TALLY.update(getattr(node, "workeroutput", {}).get("fault_tally", {}))


def pytest_terminal_summary(terminalreporter):
    from tests.faults.campaign import TALLY

    if TALLY["tried"]:
        terminalreporter.write_line(
            f"fault campaign: {TALLY['tried']} tried, {TALLY['refused']} refused in one line (or absorbed), "
            f"{TALLY['traceback']} tracebacks"
        )
