"""The wheel is the product: it must hold every package, the mnist5k digits and the reference
checkpoints, so that `pip install genzoo` (not editable) samples a published model by name."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

from tests.conftest import REPO

SKIP = shutil.ignore_patterns(".git", "runs", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".venv", "tests")


def test_every_package_folder_is_listed_in_pyproject():
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = setuptools["package-dir"]

    def folder_of(package: str) -> Path:
        top, _, rest = package.partition(".")
        return REPO / folders.get(top, top) / rest.replace(".", "/")

    listed = {folder_of(p).resolve() for p in setuptools["packages"]}
    on_disk = {p.parent.resolve() for root in ("genzoo", "plugins", "registry") for p in (REPO / root).rglob("__init__.py")
               if "__pycache__" not in p.parts}
    assert listed == on_disk
    assert folders["genzoo_registry"] == "registry" and (REPO / "registry" / "index.json").is_file()


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory) -> Path:
    """A fresh venv (seeing the system's torch, so nothing is downloaded) with genzoo's wheel installed."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "src"
    shutil.copytree(REPO, source, ignore=SKIP)
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation, "-q", "-w", str(root / "dist"),
                            str(source)], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    [wheel] = (root / "dist").glob("genzoo-*.whl")
    env_dir = root / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    # The system's packages (torch, ...) are reached through a .pth line, not `system_site_packages`: a path
    # named in a .pth file is put on sys.path without running the .pth files inside it, so an editable genzoo
    # installed there (as CI installs it) cannot fill in for a package the wheel lacks.
    [site_packages] = (env_dir / "lib").glob("python3*/site-packages")
    outer = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    (site_packages / "outer-site-packages.pth").write_text("\n".join(outer) + "\n")
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr
    return env_dir


def run_installed(env_dir: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "GENZOO_REGISTRY")}
    # The example plugin's metadata is visible through the outer site-packages but its editable code is not.
    env.update(GENZOO_CACHE_DIR=str(cwd / "cache"), OMP_NUM_THREADS="1", GENZOO_DISABLE_PLUGINS="example")
    return subprocess.run([str(env_dir / "bin" / "python"), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_installed_wheel_ships_the_registry_and_the_digits_and_samples_by_name(wheel_venv, tmp_path):
    where = run_installed(wheel_venv, tmp_path, "-c", (
        "import genzoo, genzoo.hub as h; from genzoo_datasets.mnist5k import load_arrays; import numpy as np;"
        "_, labels = load_arrays(); print(genzoo.__file__); print(h.default_registry()); print(np.bincount(labels).tolist())"))
    assert where.returncode == 0, where.stderr
    module, registry, counts = where.stdout.splitlines()
    assert module.startswith(str(wheel_venv)) and registry.startswith(str(wheel_venv))
    assert Path(registry).name == "genzoo_registry" and counts == str([500] * 10)
    listed = run_installed(wheel_venv, tmp_path, "-m", "genzoo", "registry", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    names = {e["name"] for e in json.loads(listed.stdout)["entries"]}
    assert {"gvae-mnist5k", "vae-mnist5k", "lenet-mnist5k"} <= names
    sampled = run_installed(wheel_venv, tmp_path, "-m", "genzoo", "sample", "gvae-mnist5k", "-n", "4", "-o", "grid.png")
    assert sampled.returncode == 0, sampled.stderr
    assert (tmp_path / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    info = run_installed(wheel_venv, tmp_path, "-m", "genzoo", "info", "gvae-mnist5k", "--json")
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["model"] == "gvae"


def test_info_and_sample_give_the_same_line_when_the_registry_is_absent(wheel_venv, tmp_path):
    shutil.rmtree(next((wheel_venv / "lib").glob("python3*/site-packages/genzoo_registry")))
    sample = run_installed(wheel_venv, tmp_path, "-m", "genzoo", "sample", "gvae-mnist5k")
    info = run_installed(wheel_venv, tmp_path, "-m", "genzoo", "info", "gvae-mnist5k")
    assert sample.returncode == info.returncode == 1
    assert sample.stderr == info.stderr and "default registry" in sample.stderr and "reinstall genzoo" in sample.stderr
    assert len(sample.stderr.strip().splitlines()) == 1
