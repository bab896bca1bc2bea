"""CLI commands through Typer's CliRunner, and a real installed plugin through a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from typer.testing import CliRunner

from genzoo.cli import build_app
from genzoo.plugins import PluginHost
from genzoo.registry import get_registry, set_registry
from tests.conftest import FakeEntryPoint

runner = CliRunner()


def broken():
    raise ImportError("cannot import name 'Gone'")


@pytest.fixture
def app():
    previous = get_registry.__globals__["_REGISTRY"]
    host = PluginHost(
        [
            FakeEntryPoint("tiny", "tests.fakes.tiny_plugin", dist="genzoo-tiny", version="0.0.1"),
            FakeEntryPoint("broken", broken, dist="genzoo-broken", version="9.9"),
        ],
        strict=False, disabled=(), warn=lambda line: print(line, file=sys.stderr),
    )
    yield build_app(host)
    set_registry(previous)


def test_list_json_names_each_component_with_its_provider(app):
    result = runner.invoke(app, ["list", "models", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert rows == [{"kind": "model", "name": "tiny-gan", "plugin": "tiny", "distribution": "genzoo-tiny",
                     "version": "0.0.1", "summary": "A tiny MLP GAN for tests", "tags": ["test"],
                     "default_steps": None, "presets": {}}]


def test_list_table_and_unknown_kind(app):
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0
    assert "tiny-gan" in result.stdout and "tiny-blobs" in result.stdout
    bad = runner.invoke(app, ["list", "widgets"])
    assert bad.exit_code == 1
    assert bad.stderr.strip() == "genzoo: error: unknown kind 'widgets': use one of models, losses, datasets, metrics"


def test_plugins_json_shows_status_and_error(app):
    result = runner.invoke(app, ["plugins", "--json"])
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["tiny"]["status"] == "ok" and rows["tiny"]["provides"] == {"model": ["tiny-gan"], "dataset": ["tiny-blobs"]}
    assert rows["broken"]["status"] == "failed"
    assert rows["broken"]["error"] == "ImportError: cannot import name 'Gone'"
    assert rows["broken"]["distribution"] == "genzoo-broken" and rows["broken"]["version"] == "9.9"


def test_info_shows_provider_and_config_fields(app):
    result = runner.invoke(app, ["info", "tiny-gan", "--json"])
    data = json.loads(result.stdout)
    assert data["plugin"] == "tiny" and data["factory"] == "tests.fakes.tiny:TinyGAN"
    fields = {row["field"]: row for row in data["config"]}
    assert fields["latent_dim"]["default"] == "4" and fields["latent_dim"]["doc"] == "Latent size."
    table = runner.invoke(app, ["info", "tiny-blobs"])
    assert "license: CC0" in table.stdout and "size" in table.stdout


def test_unknown_name_is_one_line_without_traceback(app):
    result = runner.invoke(app, ["info", "tiny-gna", "--kind", "models"])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == ["genzoo: error: unknown model 'tiny-gna'; did you mean 'tiny-gan'? (available: tiny-gan)"]
    verbose = runner.invoke(app, ["--verbose", "info", "tiny-gna", "--kind", "models"])
    assert "Traceback" in verbose.stderr


def test_version_lists_plugins(app):
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0].startswith("genzoo ")
    assert "plugin tiny: genzoo-tiny 0.0.1 [ok]" in result.stdout
    assert "plugin broken: genzoo-broken 9.9 [failed]" in result.stdout


def test_run_sample_and_info_from_the_checkpoint(app, tmp_path):
    run = tmp_path / "run"
    result = runner.invoke(app, ["run", "tiny-gan", "--dataset", "tiny-blobs", "--steps", "3", "--batch-size", "8",
                                 "--out", str(run), "--set", "hidden=8", "--no-progress", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["step"] == 3 and summary["model"] == str(run / "model.safetensors")
    assert json.loads((run / "config.json").read_text())["model_config"]["hidden"] == 8
    grid = tmp_path / "grid.png"
    sampled = runner.invoke(app, ["sample", str(run), "-n", "6", "-o", str(grid), "--out-dir", str(tmp_path / "each")])
    assert sampled.exit_code == 0, sampled.output
    assert grid.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(list((tmp_path / "each").glob("sample-*.png"))) == 6
    info = runner.invoke(app, ["info", str(run / "model.safetensors"), "--json"])
    meta = json.loads(info.stdout)
    assert meta["model"] == "tiny-gan" and meta["step"] == 3 and meta["config"]["hidden"] == 8
    # running again into the same --out resumes and extends
    more = runner.invoke(app, ["run", "tiny-gan", "--dataset", "tiny-blobs", "--steps", "5", "--batch-size", "8",
                               "--out", str(run), "--set", "hidden=8", "--no-progress", "--json"])
    assert more.exit_code == 0, more.output
    assert json.loads(more.stdout)["step"] == 5 and "resuming" in more.stderr
    changed = runner.invoke(app, ["run", "tiny-gan", "--dataset", "tiny-blobs", "--steps", "6", "--batch-size", "4",
                                  "--out", str(run), "--set", "hidden=8", "--no-progress"])
    assert changed.exit_code == 1 and "different train.batch_size" in changed.stderr


def test_bad_checkpoint_is_one_clear_line(app, tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x80\x04K\x01.")
    result = runner.invoke(app, ["sample", str(bad)])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [f"genzoo: error: {bad} is a pickle / torch.save file; genzoo loads only safetensors and never unpickles"]


def test_resume_without_checkpoint_is_an_error(app, tmp_path):
    result = runner.invoke(app, ["run", "tiny-gan", "--resume", str(tmp_path)])
    assert result.exit_code == 1 and "no checkpoint found" in result.stderr


@pytest.fixture
def installed_plugins(tmp_path):
    """A real distribution on sys.path whose entry point imports a module that raises."""
    site = tmp_path / "site"
    (site / "genzoo_brokenplug-1.2.dist-info").mkdir(parents=True)
    (site / "genzoo_brokenplug-1.2.dist-info" / "METADATA").write_text("Metadata-Version: 2.1\nName: genzoo-brokenplug\nVersion: 1.2\n")
    (site / "genzoo_brokenplug-1.2.dist-info" / "entry_points.txt").write_text("[genzoo]\nbrokenplug = genzoo_brokenplug\n")
    (site / "genzoo_brokenplug.py").write_text(textwrap.dedent("""
        raise RuntimeError("this plugin is broken on purpose")
    """))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    env.pop("GENZOO_STRICT_PLUGINS", None)
    return env


def test_installed_broken_plugin_warns_once_and_list_still_works(installed_plugins):
    result = subprocess.run([sys.executable, "-m", "genzoo", "list", "--json"], env=installed_plugins,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "brokenplug" in line]
    assert len(warnings) == 1
    assert "plugin 'brokenplug' (genzoo-brokenplug 1.2)" in warnings[0] and "this plugin is broken on purpose" in warnings[0]
    json.loads(result.stdout)


def test_installed_broken_plugin_in_strict_mode_fails_with_traceback(installed_plugins):
    env = dict(installed_plugins, GENZOO_STRICT_PLUGINS="1")
    result = subprocess.run([sys.executable, "-m", "genzoo", "list"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "this plugin is broken on purpose" in result.stderr


def test_help_and_list_import_no_model_code():
    code = (
        "import sys, genzoo.cli\n"
        "from typer.testing import CliRunner\n"
        "r = CliRunner().invoke(genzoo.cli.app, ['list', '--json'])\n"
        "assert r.exit_code == 0, r.output\n"
        "light = {'genzoo_models.plugin', 'genzoo_models.configs'}\n"
        "heavy = sorted(m for m in sys.modules if m in ('torch', 'torchvision', 'pydicom', 'genzoo.model', 'genzoo.trainer')\n"
        "               or (m.startswith('genzoo_models.') and m not in light))\n"
        "print(heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_info_of_a_broken_config_path_is_one_line(tmp_path):
    import genzoo
    from genzoo import ModelSpec
    from tests.conftest import make_module

    @genzoo.hookimpl
    def genzoo_models():
        return [ModelSpec("ghost", "tests.fakes.tiny:TinyGAN", "config class is gone", config="tests.fakes.tiny:Missing")]

    previous = get_registry.__globals__["_REGISTRY"]
    try:
        app = build_app(PluginHost([FakeEntryPoint("ghosts", make_module("ghosts", genzoo_models=genzoo_models))],
                                   strict=False, disabled=()))
        result = runner.invoke(app, ["info", "ghost"])
        assert result.exit_code == 1
        assert result.stderr.strip().splitlines() == [
            "genzoo: error: model 'ghost': cannot import its config 'tests.fakes.tiny:Missing': "
            "AttributeError: module 'tests.fakes.tiny' has no attribute 'Missing'"
        ]
    finally:
        set_registry(previous)


def test_info_shows_generic_types_and_run_help_keeps_its_brackets():
    from importlib import metadata

    previous = get_registry.__globals__["_REGISTRY"]
    first_party = [ep for ep in metadata.entry_points(group="genzoo") if ep.dist.metadata["Name"] == "genzoo"]
    try:
        app = build_app(PluginHost(first_party, strict=True, disabled=()))
        info = runner.invoke(app, ["info", "vae"], env={"COLUMNS": "200"})
        assert info.exit_code == 0 and "tuple[float, float]" in info.stdout
        help_text = runner.invoke(app, ["run", "--help"], env={"COLUMNS": "200"}).stdout
        assert "TOML file with [train], [model_config] and [data_config] tables." in help_text
    finally:
        set_registry(previous)
