"""``genzoo run gvae --dataset pancreas --data-dir <synth-ct>`` trains in 2D and 3D (tiny nets)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from genzoo.cli import build_app
from genzoo.registry import get_registry, set_registry

TINY = ["--set", "model.latent_dim=8", "--set", "model.net.encoder_width=4", "--set", "model.net.generator_width=4",
        "--set", "model.net.discriminator_width=4", "--set", "train.grid_size=4"]


@pytest.fixture
def app():
    previous = get_registry.__globals__["_REGISTRY"]
    yield build_app()
    set_registry(previous)


@pytest.mark.slow
@pytest.mark.parametrize("mode,size", [("2d", 32), ("3d", 32)])
def test_gvae_trains_on_synthetic_ct(app, synth_source, tmp_path, mode, size):
    out = tmp_path / f"run-{mode}"
    args = ["run", "gvae", "--dataset", "pancreas", "--data-dir", str(synth_source), "--steps", "1", "-b", "2",
            "--out", str(out), "--no-progress", "--device", "cpu", "--json",
            "--set", f"data.mode={mode}", "--set", f"data.size={size}", "--set", "data.min_slices=4", *TINY]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (out / "model.safetensors").is_file()
    from safetensors import safe_open

    with safe_open(str(out / "model.safetensors"), "pt") as handle:
        meta = handle.metadata()
    assert meta["dataset"] == "pancreas"
    expected = [1, size, size] if mode == "2d" else [1, size, size, size]
    assert json.loads(meta["data_shape"]) == expected
    assert json.loads(meta["normalisation"])["window"] == {"width": 400.0, "level": 40.0}
