"""Contract tests over everything the project's registry/ lists: verified, loadable, documented.

They read the real ``registry/`` folder and load its checkpoints with the installed first-party
plugins, so a model change that breaks a published checkpoint fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from genzoo.checkpoint import load_model, read_header
from genzoo.hub import list_entries
from genzoo.hub.cache import verify_in_place
from genzoo.hub.locations import FolderLocation

REGISTRY = Path(__file__).resolve().parents[2] / "registry"
REFERENCE = {"gvae-mnist5k", "vae-mnist5k", "wgan-gp-mnist5k", "alpha-gan-mnist5k", "vae-gan-mnist5k", "lenet-mnist5k"}
MAX_REGISTRY_BYTES = 16 * 1024 * 1024  # v2 (generator width 32) is ~11 MB; it ships in the wheel
ENTRIES = list_entries(REGISTRY).entries


def test_every_reference_checkpoint_is_published_and_the_registry_stays_small():
    assert REFERENCE <= {e.name for e in ENTRIES}
    size = sum(p.stat().st_size for p in REGISTRY.rglob("*") if p.is_file())
    assert size < MAX_REGISTRY_BYTES, f"registry/ holds {size / 2**20:.1f} MiB"
    listed = {e.path for e in ENTRIES} | {e.file_path(f) for e in ENTRIES for f in e.files}
    on_disk = {str(p.relative_to(REGISTRY)) for p in REGISTRY.glob("*/*/*") if p.is_file()}
    assert on_disk == listed  # nothing unlisted (and so unverified) ships in registry/


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.ref)
def test_entry_verifies_loads_and_is_documented(entry):
    path = verify_in_place(FolderLocation(REGISTRY), entry)
    card = (path.parent / "README.md").read_text()
    if entry.kind == "feature-net":
        assert read_header(path)[1]["format"] == "genzoo-feature-net/1"
        assert "genzoo train-classifier" in card
        return
    model, meta = load_model(path)
    assert (meta["model"], meta["dataset"], meta["step"]) == (entry.model, entry.dataset, entry.step)
    with torch.no_grad():
        images = model.sample(4, torch.Generator().manual_seed(0))
    assert tuple(images.shape) == (4, *meta["data_shape"])
    assert torch.isfinite(images).all() and images.abs().max() <= 1
    assert f"genzoo run {entry.model} --dataset {entry.dataset} --steps {entry.step}" in card
    assert f"genzoo sample {entry.name}@{entry.version} -n 64 -o grid.png" in card
    assert "## Evaluation" in card and "| fid |" in card and (path.parent / "samples.png").is_file()


def test_the_readme_command_samples_from_the_shipped_registry(tmp_path, monkeypatch):
    from genzoo.cli import build_app

    monkeypatch.delenv("GENZOO_REGISTRY", raising=False)
    monkeypatch.setenv("GENZOO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(build_app(), ["sample", "gvae-mnist5k", "-n", "64", "-o", "grid.png"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (tmp_path / "cache").exists()  # a local registry is used in place, not copied


def _version_number(entry) -> int:
    return int(entry.version.lstrip("v") or 0) if entry.version.lstrip("v").isdigit() else -1


NEWEST = {e.name: e for e in sorted(ENTRIES, key=_version_number) if e.kind != "feature-net"}


def _has_encoder(model: str) -> bool:
    from genzoo.registry import get_registry

    return "encoder" in get_registry().get("model", model).tags


@pytest.mark.parametrize("entry", [e for e in NEWEST.values() if _has_encoder(e.model)], ids=lambda e: e.ref)
def test_encoded_codes_of_the_newest_checkpoints_sit_on_the_prior(entry):
    """Prior samples are only digits where the encoder puts the data: VAE-GAN's first checkpoint
    had codes 0.76 per dimension off the prior's mean, and its samples were noise."""
    from genzoo.registry import get_registry

    model, meta = load_model(verify_in_place(FolderLocation(REGISTRY), entry))
    assert model.has_encoder, f"{entry.model} is tagged 'encoder' but has none"
    held_out = get_registry().build_dataset(meta["dataset"], None, "test")
    with torch.no_grad():
        mu, logvar = model.encode(torch.stack([held_out[i] for i in range(len(held_out))]))
        z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=torch.Generator().manual_seed(0))
    assert mu.mean(0).abs().mean() < 0.3, "the aggregate posterior's mean has drifted off the prior's"
    assert 0.6 < z.std(0).mean() < 1.4, "the aggregate posterior's spread does not match the prior's"
