"""Fixtures for the dataset tests: a private cache folder and small synthetic CT collections."""

from __future__ import annotations

from pathlib import Path

import pytest

from genzoo_datasets.pancreas.synth import write_collection

SYNTH = {"patients": 3, "size": 32, "slices": 10, "slice_mm": 4.0, "seed": 7}


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own $GENZOO_CACHE_DIR, so nothing leaks into ~/.cache."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("GENZOO_CACHE_DIR", str(folder))
    return folder


@pytest.fixture(scope="session")
def synth_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only-by-convention synthetic collection (3 patients x 10 slices of 32x32), NBIA layout."""
    out = tmp_path_factory.mktemp("synth-ct")
    write_collection(out, **SYNTH)
    return out


@pytest.fixture
def synth_copy(tmp_path: Path) -> Path:
    """A fresh collection the test may modify."""
    out = tmp_path / "collection"
    write_collection(out, **SYNTH)
    return out
