"""Publishing into a folder registry, listing it, and using checkpoints by name."""

from __future__ import annotations

import hashlib
import json
import os
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genzoo.cli.training import resolve_checkpoint_path
from genzoo.errors import GenzooError, UnknownNameError
from genzoo.hub import export_run, list_entries, push
from genzoo.hub.index import RegistryError
from tests.sharing.conftest import cached_files

runner = CliRunner()


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_push_auto_increments_and_never_overwrites(tiny_registry, run_dir, tmp_path):
    registry = tmp_path / "registry"
    first = push(run_dir, registry, "tiny-blobs-gan")
    second = push(run_dir, registry, "tiny-blobs-gan")
    tagged = push(run_dir, registry, "tiny-blobs-gan", tag="v7")
    after_tag = push(run_dir, registry, "tiny-blobs-gan")
    assert [first.version, second.version, tagged.version, after_tag.version] == ["v1", "v2", "v7", "v8"]
    index_before = (registry / "index.json").read_bytes()
    card_before = (registry / "tiny-blobs-gan" / "v1" / "README.md").read_bytes()
    with pytest.raises(RegistryError, match="tiny-blobs-gan@v1 already exists in .* never overwritten"):
        push(run_dir, registry, "tiny-blobs-gan", tag="v1")
    assert (registry / "index.json").read_bytes() == index_before
    assert (registry / "tiny-blobs-gan" / "v1" / "README.md").read_bytes() == card_before
    entry = list_entries(registry).find("tiny-blobs-gan", "v1")
    assert entry.path == "tiny-blobs-gan/v1/model.safetensors"
    assert entry.sha256 == digest(run_dir / "model.safetensors") == digest(registry / entry.path)
    assert entry.size == (run_dir / "model.safetensors").stat().st_size
    assert entry.model == "tiny-gan" and entry.dataset == "tiny-blobs" and entry.step == 3
    assert set(entry.files) == {"README.md", "config.json", "samples.png"}
    assert all(record.sha256 == digest(registry / "tiny-blobs-gan" / "v1" / name) for name, record in entry.files.items())
    assert list_entries(registry).find("tiny-blobs-gan").version == "v8"  # no version: the newest
    assert "genzoo sample tiny-blobs-gan@v2 -n 64 -o grid.png" in (registry / "tiny-blobs-gan" / "v2" / "README.md").read_text()
    assert not list(registry.rglob(".*partial*")) and not (registry / ".index.lock").exists()


def test_push_an_exported_folder_records_its_metrics_and_renames_the_card(tiny_registry, run_dir, tmp_path):
    (run_dir / "eval.json").write_text(json.dumps({"dataset": "tiny-blobs", "split": "test", "results": [
        {"metric": "mmd", "status": "ok", "value": 0.5, "higher_is_better": False}]}))
    folder = export_run(run_dir, tmp_path / "exported")
    entry = push(folder, tmp_path / "registry", "blobs", tag="first")
    assert entry.ref == "blobs@first" and entry.metrics == {"mmd": 0.5}
    published = tmp_path / "registry" / "blobs" / "first"
    assert (published / "model.safetensors").read_bytes() == (folder / "model.safetensors").read_bytes()
    card = (published / "README.md").read_text()
    assert "genzoo sample blobs@first -n 64" in card and "| mmd | 0.5 | lower |" in card
    # a card written by hand is published as it is
    (folder / "README.md").write_text("# my own card\n")
    push(folder, tmp_path / "registry", "blobs")
    assert (tmp_path / "registry" / "blobs" / "v1" / "README.md").read_text() == "# my own card\n"


def test_push_refuses_a_held_lock_a_bad_name_and_an_http_registry(tiny_registry, run_dir, tmp_path):
    registry = tmp_path / "registry"
    registry.mkdir()
    (registry / ".index.lock").write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "time": 0}))
    with pytest.raises(RegistryError, match=r"\.index\.lock is held by pid \d+ on .*another push"):
        push(run_dir, registry, "x")
    assert sorted(p.name for p in registry.iterdir()) == [".index.lock"]
    with pytest.raises(RegistryError, match="invalid name '../x'"):
        push(run_dir, tmp_path / "other", "../x")
    with pytest.raises(RegistryError, match="read-only over HTTP"):
        push(run_dir, "http://127.0.0.1:9/registry", "x")


def test_cli_push_list_sample_info_by_name(tiny_cli, run_dir, tmp_path, monkeypatch):
    registry = tmp_path / "registry"
    pushed = runner.invoke(tiny_cli, ["push", str(run_dir), "--registry", str(registry), "--name", "tiny-blobs-gan", "--json"])
    assert pushed.exit_code == 0, pushed.output
    assert json.loads(pushed.stdout)["version"] == "v1"
    listed = runner.invoke(tiny_cli, ["registry", "list", "--registry", str(registry), "--json"])
    entries = json.loads(listed.stdout)["entries"]
    assert [(e["name"], e["version"], e["model"], e["dataset"]) for e in entries] == [("tiny-blobs-gan", "v1", "tiny-gan", "tiny-blobs")]
    table = runner.invoke(tiny_cli, ["registry", "list", "--registry", str(registry)])
    row = next(line for line in table.stdout.splitlines() if "tiny-blobs-gan" in line).split()
    assert table.exit_code == 0 and row[:5] == ["tiny-blobs-gan", "v1", "tiny-gan", "tiny-blobs", "3"]
    monkeypatch.setenv("GENZOO_REGISTRY", str(registry))
    grid = tmp_path / "grid.png"
    sampled = runner.invoke(tiny_cli, ["sample", "tiny-blobs-gan@v1", "-n", "4", "-o", str(grid)])
    assert sampled.exit_code == 0, sampled.output
    assert grid.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and "4 samples of tiny-gan (step 3)" in sampled.stdout
    assert resolve_checkpoint_path("tiny-blobs-gan") == registry / "tiny-blobs-gan" / "v1" / "model.safetensors"
    info = runner.invoke(tiny_cli, ["info", "tiny-blobs-gan@v1", "--json"])
    assert info.exit_code == 0, info.output
    assert json.loads(info.stdout)["file"] == str(registry / "tiny-blobs-gan" / "v1" / "model.safetensors")
    # `genzoo eval NAME` resolves through the registry too: past the name to the (absent) metric
    evaluated = runner.invoke(tiny_cli, ["eval", "tiny-blobs-gan", "--metrics", "nothing", "-n", "8"])
    assert evaluated.stderr.strip() == "genzoo: error: unknown metric 'nothing' (available: none installed)"
    misnamed = runner.invoke(tiny_cli, ["eval", "tiny-blobs-ga", "--metrics", "nothing", "-n", "8"])
    assert misnamed.stderr.strip().endswith("did you mean tiny-blobs-gan?")
    unknown = runner.invoke(tiny_cli, ["sample", "tiny-blob-gan"])
    assert unknown.exit_code == 1
    assert unknown.stderr.strip().splitlines() == [
        f"genzoo: error: tiny-blob-gan is no file or folder, and no checkpoint named 'tiny-blob-gan' in registry {registry} "
        "(it holds 1 names; see `genzoo registry list`); did you mean tiny-blobs-gan?"
    ]
    missing_version = runner.invoke(tiny_cli, ["sample", "tiny-blobs-gan@v9"])
    assert missing_version.stderr.strip().endswith("has no version 'v9' in registry " + str(registry) + "; versions: v1")


def test_a_changed_file_in_a_local_registry_is_refused(tiny_cli, run_dir, tmp_path, monkeypatch, cache):
    registry = tmp_path / "registry"
    push(run_dir, registry, "m")
    model = registry / "m" / "v1" / "model.safetensors"
    data = bytearray(model.read_bytes())
    data[-1] ^= 0xFF
    model.write_bytes(bytes(data))
    monkeypatch.setenv("GENZOO_REGISTRY", str(registry))
    result = runner.invoke(tiny_cli, ["sample", "m", "-o", str(tmp_path / "g.png")])
    assert result.exit_code == 1 and not (tmp_path / "g.png").exists()
    assert result.stderr.strip() == f"genzoo: error: {model} (m@v1) does not match its sha256 in the index; it was changed or corrupted"
    assert cached_files(cache) == []


def test_missing_default_registry_is_explained(tiny_cli, tmp_path, monkeypatch):
    monkeypatch.setenv("GENZOO_REGISTRY", str(tmp_path / "nowhere"))
    result = runner.invoke(tiny_cli, ["sample", "gvae-mnist5k"])
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"genzoo: error: $GENZOO_REGISTRY names {tmp_path / 'nowhere'}, which does not exist; correct it or unset it"
    )
    # without $GENZOO_REGISTRY: the checkout's registry/ or the installed genzoo_registry, both gone here
    import genzoo.hub.locations as locations

    monkeypatch.delenv("GENZOO_REGISTRY")
    monkeypatch.setattr(locations, "default_registry", lambda: str(tmp_path / "site-packages" / "registry"))
    monkeypatch.setattr("genzoo.hub.cache.default_registry", locations.default_registry)
    absent = runner.invoke(tiny_cli, ["sample", "gvae-mnist5k"])
    assert absent.stderr.strip() == (
        f"genzoo: error: the default registry {tmp_path / 'site-packages' / 'registry'} is absent (genzoo ships it as "
        "the package genzoo_registry; reinstall genzoo), or set $GENZOO_REGISTRY to a registry folder or URL, "
        "or pass --registry LOCATION"
    )
    path_like = runner.invoke(tiny_cli, ["sample", "runs/none/model.safetensors"])
    assert path_like.stderr.strip() == "genzoo: error: checkpoint runs/none/model.safetensors does not exist"


def test_unknown_name_error_type(tiny_registry, run_dir, tmp_path):
    push(run_dir, tmp_path / "r", "alpha-gan-mnist5k")
    with pytest.raises(UnknownNameError, match="did you mean alpha-gan-mnist5k"):
        list_entries(tmp_path / "r").find("alpha-gan-mnist")


def test_feature_network_file_is_published_and_pulled_as_its_own_kind(tmp_path, cache):
    import torch
    from safetensors.torch import save_file

    from genzoo.hub import pull

    net = tmp_path / "lenet-blobs.safetensors"
    save_file({"conv.weight": torch.randn(4, 1, 3, 3)}, str(net),
              metadata={"format": "genzoo-feature-net/1", "dataset": "tiny-blobs", "test_accuracy": "0.9", "split": "train",
                        "eval_dataset": "tiny-blobs", "eval_split": "test", "epochs": "3", "seed": "1"})
    entry = push(net, tmp_path / "registry", "lenet-blobs")
    assert (entry.kind, entry.model, entry.dataset, entry.path) == ("feature-net", "feature-net", "tiny-blobs",
                                                                     "lenet-blobs/v1/lenet-blobs.safetensors")
    card = (tmp_path / "registry" / "lenet-blobs" / "v1" / "README.md").read_text()
    assert "--set fid.classifier=FILE" in card and "| test_accuracy | 0.9 |" in card
    assert ("genzoo train-classifier --dataset tiny-blobs --split train --eval-dataset tiny-blobs --eval-split test "
            "--epochs 3 --seed 1 --out lenet-blobs.safetensors") in card
    path, pulled = pull("lenet-blobs", tmp_path / "registry")
    assert path.name == "lenet-blobs.safetensors" and path.read_bytes() == net.read_bytes()
    assert path.is_relative_to(cache / "hub") and pulled.kind == "feature-net"
    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(1)}, str(plain))
    with pytest.raises(GenzooError, match="is a safetensors file but not a genzoo checkpoint"):
        push(plain, tmp_path / "registry", "plain")
    assert not (tmp_path / "registry" / "plain").exists()


def test_default_registry_is_the_project_folder_unless_overridden(monkeypatch):
    import genzoo
    from genzoo.hub import default_registry

    monkeypatch.delenv("GENZOO_REGISTRY", raising=False)
    assert default_registry() == str(Path(genzoo.__file__).resolve().parents[1] / "registry")
    monkeypatch.setenv("GENZOO_REGISTRY", "https://example.org/genzoo")
    assert default_registry() == "https://example.org/genzoo"
