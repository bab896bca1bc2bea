"""The plugin through the host (as a third party's would load), and the ``genzoo data`` commands."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from genzoo.cli import build_app
from genzoo.plugins import PluginHost
from genzoo.registry import Registry, get_registry, set_registry
from tests.conftest import FakeEntryPoint

runner = CliRunner()


@pytest.fixture
def host():
    previous = get_registry.__globals__["_REGISTRY"]
    plugin_host = PluginHost([FakeEntryPoint("datasets", "genzoo_datasets.plugin", dist="genzoo", version="0.1.0")],
                             strict=True, disabled=())
    yield plugin_host
    set_registry(previous)


def test_entry_module_imports_nothing_heavy():
    code = "import sys, genzoo_datasets.plugin as p; p.genzoo_datasets(); print(sorted(m for m in ('torch', 'numpy', 'pydicom', 'typer') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_specs_declare_splits_license_citation_and_how_to_obtain(host):
    registry = Registry(host)
    assert {"mnist5k", "mnist", "fashion-mnist", "pancreas"} <= set(registry.names("dataset"))
    spec = registry.get("dataset", "mnist5k")
    assert spec.splits == ("train", "test", "all") and spec.eval_split == "test"
    for name in ("mnist5k", "mnist", "fashion-mnist", "pancreas"):
        spec = registry.get("dataset", name)
        assert spec.license != "unknown" and spec.citation and spec.obtain
        assert spec.default_config() is not None
    assert "10.7937/K9/TCIA.2016.tNB1kqBU" in registry.get("dataset", "pancreas").citation
    test = registry.build_dataset("mnist5k", {"test_every": 10}, "test")
    assert len(test) == 500 and test.labels is not None


def test_synth_ct_then_prepare_json(host, tmp_path):
    app = build_app(host)
    out = tmp_path / "ct"
    result = runner.invoke(app, ["data", "synth-ct", str(out), "--patients", "2", "--size", "32", "--slices", "8"])
    assert result.exit_code == 0, result.output
    assert "wrote 2 patients x 8 slices of 32x32" in result.stdout
    assert len(list(out.rglob("*.dcm"))) == 16
    args = ["data", "prepare", "pancreas", str(out), "--size", "16", "--mode", "3d", "--workers", "1", "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert summary["splits"]["train"] == {"samples": 1, "shape": [1, 16, 16, 16], "patients": 1}
    assert summary["splits"]["test"]["samples"] == 1 and summary["series_built"] == 2 and summary["skipped"] == 0
    second = json.loads(runner.invoke(app, args).stdout)
    assert second["series_reused"] == 2 and second["headers_read"] == 0 and second["cache"] == summary["cache"]
    table = runner.invoke(app, args[:-1])
    assert "train:    1 samples of [1, 16, 16, 16] from 1 patients" in table.stdout


def test_prepare_user_errors_are_one_line(host, tmp_path):
    app = build_app(host)
    result = runner.invoke(app, ["data", "prepare", "mnist", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr.strip() == "genzoo: error: `genzoo data prepare` supports pancreas; 'mnist' needs no preparation"
    result = runner.invoke(app, ["data", "prepare", "pancreas", str(tmp_path), "--size", "48"])
    assert result.exit_code == 1 and "size must be a power of two" in result.stderr
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["data", "synth-ct", str(tmp_path / "x"), "--patients", "0"])
    assert result.exit_code == 1 and "--patients >= 1" in result.stderr
