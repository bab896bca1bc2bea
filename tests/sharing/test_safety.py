"""Every unsafe case is one clear line, writes nothing to the cache and executes nothing."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genzoo.errors import GenzooError, UnknownNameError
from genzoo.hub import pull, push
from genzoo.hub.index import INDEX_FORMAT, RegistryError
from tests.sharing.conftest import cached_files

runner = CliRunner()


def publish(root: Path, name: str, blobs: dict[str, bytes], path: str | None = None, **fields) -> dict:
    """Write files under ``root/name/v1`` and an index entry for them (as a hostile registry could)."""
    folder = root / name / "v1"
    folder.mkdir(parents=True)
    for file_name, data in blobs.items():
        (folder / file_name).write_bytes(data)
    main = next(iter(blobs))
    entry = {"name": name, "version": "v1", "kind": "model", "path": path or f"{name}/v1/{main}",
             "sha256": hashlib.sha256(blobs[main]).hexdigest(), "size": len(blobs[main]), **fields}
    index_path = root / "index.json"
    index = json.loads(index_path.read_text()) if index_path.exists() else {"format": INDEX_FORMAT, "entries": []}
    index["entries"].append(entry)
    index_path.write_text(json.dumps(index))
    return entry


def one_error_line(result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture
def served(tiny_registry, run_dir, http_registry):
    """An HTTP registry holding the tiny run as ``m@v1``."""
    push(run_dir, http_registry.root, "m")
    return http_registry


def test_checksum_mismatch(tiny_cli, served, cache):
    model = served.root / "m" / "v1" / "model.safetensors"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0x01  # same size, one bit changed
    model.write_bytes(bytes(data))
    line = one_error_line(runner.invoke(tiny_cli, ["pull", "m", "--registry", served.url]))
    assert line.startswith(f"genzoo: error: {served.url}/m/v1/model.safetensors (m@v1) does not match its sha256 in the index")
    assert line.endswith("nothing was saved")
    assert cached_files(cache) == [] and not (cache / "hub").exists()


def test_truncated_file_on_the_server(tiny_cli, served, cache):
    model = served.root / "m" / "v1" / "model.safetensors"
    size = model.stat().st_size
    model.write_bytes(model.read_bytes()[: size - 100])
    line = one_error_line(runner.invoke(tiny_cli, ["pull", "m", "--registry", served.url]))
    assert line == (f"genzoo: error: {served.url}/m/v1/model.safetensors is truncated: got {size - 100} of {size} bytes; "
                    "nothing was saved")
    assert cached_files(cache) == []


def test_connection_closed_mid_download(tiny_cli, served, cache):
    served.cut_short["m/v1/model.safetensors"] = 1000
    line = one_error_line(runner.invoke(tiny_cli, ["pull", "m", "--registry", served.url]))
    size = (served.root / "m" / "v1" / "model.safetensors").stat().st_size
    assert line == (f"genzoo: error: {served.url}/m/v1/model.safetensors is truncated: got 1000 of {size} bytes; "
                    "nothing was saved")
    assert cached_files(cache) == []


def test_file_larger_than_the_index_says_is_cut_off(served, cache):
    model = served.root / "m" / "v1" / "model.safetensors"
    model.write_bytes(model.read_bytes() + b"\0" * 4096)
    with pytest.raises(RegistryError, match="is larger than the .* bytes its index entry promises"):
        pull("m", served.url)
    assert cached_files(cache) == []


class Payload:
    """Unpickling this would create the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_pickle_is_refused_and_never_unpickled(tiny_cli, http_registry, cache, tmp_path):
    marker = tmp_path / "pwned"
    publish(http_registry.root, "evil", {"model.safetensors": pickle.dumps(Payload(marker))}, model="tiny-gan")
    line = one_error_line(runner.invoke(tiny_cli, ["pull", "evil", "--registry", http_registry.url]))
    assert line == (f"genzoo: error: {http_registry.url}/evil/v1/model.safetensors (evil@v1) is a pickle / torch.save file; "
                    "genzoo loads only safetensors and never unpickles; nothing was saved")
    assert not marker.exists()
    assert cached_files(cache) == []


def test_safetensors_that_is_not_a_genzoo_model_is_refused(http_registry, cache):
    from safetensors.torch import save as save_bytes
    import torch

    publish(http_registry.root, "plain", {"model.safetensors": save_bytes({"w": torch.zeros(2)})})
    with pytest.raises(RegistryError, match=r"\(plain@v1\) is a safetensors file with no genzoo metadata"):
        pull("plain", http_registry.url)
    assert cached_files(cache) == []


def test_index_naming_another_model_than_the_file_holds(served, cache):
    index = json.loads((served.root / "index.json").read_text())
    index["entries"][0]["model"] = "gvae"
    (served.root / "index.json").write_text(json.dumps(index))
    with pytest.raises(RegistryError, match="holds model 'tiny-gan', but the index says 'gvae'"):
        pull("m", served.url)
    assert cached_files(cache) == []


@pytest.mark.parametrize("path", [
    "../secret/model.safetensors",
    "m/../../secret/model.safetensors",
    "/etc/passwd",
    "http://evil.example/model.safetensors",
    "//evil.example/model.safetensors",
    "m/%2e%2e/%2e%2e/model.safetensors",
    "m\\..\\..\\model.safetensors",
])
def test_index_path_outside_the_registry_is_refused_before_any_download(tiny_cli, http_registry, cache, path):
    publish(http_registry.root, "escape", {"model.safetensors": b"x" * 10}, path=path)
    line = one_error_line(runner.invoke(tiny_cli, ["pull", "escape", "--registry", http_registry.url]))
    assert line == (f"genzoo: error: {http_registry.url}/index.json: index entry escape@v1: path {path!r} points outside "
                    "the registry or is not a plain relative path; refusing it")
    assert http_registry.requests == ["index.json"]
    assert cached_files(cache) == []


def test_card_file_paths_are_checked_too(http_registry, cache):
    publish(http_registry.root, "escape", {"model.safetensors": b"x"},
            files={"../../index.json": {"sha256": "0" * 64, "size": 1}})
    with pytest.raises(RegistryError, match=r"file '../../index.json'.*points outside the registry"):
        pull("escape", http_registry.url)
    assert cached_files(cache) == []


def test_a_link_out_of_a_folder_registry_is_refused(tiny_registry, run_dir, tmp_path, cache):
    registry = tmp_path / "registry"
    push(run_dir, registry, "m")
    outside = tmp_path / "outside.safetensors"
    outside.write_bytes((registry / "m" / "v1" / "model.safetensors").read_bytes())
    (registry / "m" / "v1" / "model.safetensors").unlink()
    os.symlink(outside, registry / "m" / "v1" / "model.safetensors")
    with pytest.raises(RegistryError, match="leads outside the registry"):
        pull("m", registry)
    assert cached_files(cache) == []


def test_a_redirect_to_another_host_is_refused(served, cache):
    served.redirects["m/v1/model.safetensors"] = "http://localhost:9/model.safetensors"
    with pytest.raises(RegistryError, match="redirects to another host or scheme"):
        pull("m", served.url)
    assert cached_files(cache) == []


def test_unknown_name_and_version(tiny_cli, served, cache):
    line = one_error_line(runner.invoke(tiny_cli, ["pull", "mm", "--registry", served.url]))
    assert line == (f"genzoo: error: no checkpoint named 'mm' in registry {served.url} "
                    "(it holds 1 names; see `genzoo registry list`); did you mean m?")
    with pytest.raises(UnknownNameError, match="m has no version 'v3'"):
        pull("m@v3", served.url)
    with pytest.raises(GenzooError, match="invalid name '../m'"):
        pull("../m", served.url)
    assert served.requests == ["index.json", "index.json"]
    assert cached_files(cache) == []


def test_malformed_index_is_one_line(tiny_cli, http_registry, cache):
    (http_registry.root / "index.json").write_text("{not json")
    line = one_error_line(runner.invoke(tiny_cli, ["registry", "list", "--registry", http_registry.url]))
    assert line.startswith(f"genzoo: error: {http_registry.url}/index.json is not valid JSON")
    (http_registry.root / "index.json").write_text(json.dumps({"format": "other", "entries": []}))
    line = one_error_line(runner.invoke(tiny_cli, ["pull", "x", "--registry", http_registry.url]))
    assert line == f"genzoo: error: {http_registry.url}/index.json is not a genzoo registry index (genzoo-registry/1)"
    (http_registry.root / "index.json").unlink()
    line = one_error_line(runner.invoke(tiny_cli, ["pull", "x", "--registry", http_registry.url]))
    assert line == f"genzoo: error: {http_registry.url}/index.json does not exist (HTTP 404); is {http_registry.url} a genzoo registry?"
