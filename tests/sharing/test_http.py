"""A registry served over HTTP on 127.0.0.1: push to its folder, pull over HTTP, bit-exact."""

from __future__ import annotations

import json

import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from genzoo.checkpoint import load_model
from genzoo.hub import list_entries, pull, push
from tests.sharing.conftest import cached_files

runner = CliRunner()


def test_push_then_pull_over_http_round_trips_bit_exact(tiny_registry, run_dir, http_registry, cache):
    entry = push(run_dir, http_registry.root, "tiny-blobs-gan")
    path, pulled = pull("tiny-blobs-gan", http_registry.url)
    assert pulled == entry
    assert path.parent == cache / "hub" / path.parent.relative_to(cache / "hub")
    assert path.read_bytes() == (run_dir / "model.safetensors").read_bytes()
    published = http_registry.root / "tiny-blobs-gan" / "v1"
    assert sorted(p.name for p in path.parent.iterdir()) == sorted(p.name for p in published.iterdir())
    for item in published.iterdir():
        assert (path.parent / item.name).read_bytes() == item.read_bytes(), item.name
    original, loaded = load_file(str(run_dir / "model.safetensors")), load_file(str(path))
    assert all(torch.equal(original[k], loaded[k]) for k in original)
    model, meta = load_model(path)
    assert meta["model"] == "tiny-gan" and meta["step"] == 3
    assert set(http_registry.requests) == {"index.json", *(f"tiny-blobs-gan/v1/{p.name}" for p in published.iterdir())}
    # a second pull is served from the verified cache: only the index is fetched again
    http_registry.requests.clear()
    assert pull("tiny-blobs-gan@v1", http_registry.url)[0] == path
    assert http_registry.requests == ["index.json"]


def test_a_damaged_cached_copy_is_replaced_by_a_verified_download(tiny_registry, run_dir, http_registry, cache):
    push(run_dir, http_registry.root, "m")
    path, _ = pull("m", http_registry.url)
    path.write_bytes(b"garbage")
    again, _ = pull("m", http_registry.url)
    assert again == path and path.read_bytes() == (run_dir / "model.safetensors").read_bytes()
    assert not [p for p in path.parent.parent.iterdir() if p.name.startswith(".partial")]


def test_cli_over_http_pull_list_and_sample_by_name(tiny_cli, run_dir, http_registry, cache, tmp_path, monkeypatch):
    push(run_dir, http_registry.root, "tiny-blobs-gan")
    push(run_dir, http_registry.root, "tiny-blobs-gan")
    listed = runner.invoke(tiny_cli, ["registry", "list", "--registry", http_registry.url, "--json"])
    assert listed.exit_code == 0, listed.output
    data = json.loads(listed.stdout)
    assert data["registry"] == http_registry.url and [e["version"] for e in data["entries"]] == ["v1", "v2"]
    pulled = runner.invoke(tiny_cli, ["pull", "tiny-blobs-gan@v1", "--registry", http_registry.url, "--json"])
    assert pulled.exit_code == 0, pulled.output
    info = json.loads(pulled.stdout)
    assert info["version"] == "v1" and info["file"].startswith(str(cache / "hub")) and info["path"] == "tiny-blobs-gan/v1/model.safetensors"
    monkeypatch.setenv("GENZOO_REGISTRY", http_registry.url)
    grid = tmp_path / "grid.png"
    sampled = runner.invoke(tiny_cli, ["sample", "tiny-blobs-gan", "-n", "9", "-o", str(grid)])
    assert sampled.exit_code == 0, sampled.output
    assert grid.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {p.parent.name for p in cached_files(cache)} == {"v1", "v2"}  # sample without a version took the newest
    assert list_entries(http_registry.url).find("tiny-blobs-gan").version == "v2"


def test_unreachable_registry_is_one_line(tiny_cli, cache):
    result = runner.invoke(tiny_cli, ["pull", "x", "--registry", "http://127.0.0.1:9/nothing"])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genzoo: error: cannot reach registry http://127.0.0.1:9/nothing:")
    assert cached_files(cache) == []


def test_a_concurrent_pull_that_finishes_second_keeps_the_first_copy(tiny_registry, run_dir, http_registry, cache):
    import shutil

    from genzoo.hub.cache import _move_into_place

    push(run_dir, http_registry.root, "m")
    path, entry = pull("m", http_registry.url)
    inode = path.stat().st_ino
    staging = path.parent.with_name(".partial-v1-other")
    shutil.copytree(path.parent, staging)
    _move_into_place(staging, path.parent, entry)
    assert not staging.exists() and path.stat().st_ino == inode
    assert sorted(p.name for p in path.parent.parent.iterdir()) == ["v1"]
