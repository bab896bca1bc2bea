"""Checkpoint files: round trip, metadata, and every kind of bad file."""

from __future__ import annotations

import pickle
import struct

import pytest
import torch

from genzoo.checkpoint import MODEL_FORMAT, atomic_write, load_model, read_metadata, save_model
from genzoo.errors import CheckpointError, OutputError, PluginMissingError
from genzoo.plugins import PluginHost
from genzoo.registry import Registry


def meta(**overrides):
    values = {
        "model": "tiny-gan", "plugin": "tiny", "plugin_distribution": "genzoo-tiny", "plugin_version": "0.0.1",
        "config": {"latent_dim": 4, "hidden": 16, "critic_steps": 2, "nan_after": -1, "lr": 1e-3},
        "dataset": "tiny-blobs", "dataset_config": {"size": 96, "side": 8}, "data_shape": [1, 8, 8],
        "normalisation": {"range": [-1, 1]}, "genzoo_version": "0.1.0", "step": 12,
    }
    values.update(overrides)
    return values


@pytest.fixture
def checkpoint(tiny_registry, tmp_path):
    model = tiny_registry.build_model("tiny-gan", None, (1, 8, 8))
    model.train()
    model(  # move BatchNorm running stats away from their defaults
        "generator", torch.zeros(4, 1, 8, 8)
    )
    path = save_model(tmp_path / "model.safetensors", model, meta())
    return model, path


def test_round_trip_rebuilds_the_model_from_the_file_alone(checkpoint, tiny_registry):
    original, path = checkpoint
    loaded, info = load_model(path)
    assert info["format"] == MODEL_FORMAT and info["step"] == 12 and info["data_shape"] == [1, 8, 8]
    for key, value in original.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key
    original.eval()
    noise = torch.randn(5, 4)
    assert torch.equal(original.generate(noise), loaded.generate(noise))


def test_missing_plugin_says_what_to_install(checkpoint, tmp_path):
    _, path = checkpoint
    empty = Registry(PluginHost([], strict=True, disabled=()))
    with pytest.raises(PluginMissingError, match=r"needs model 'tiny-gan' from plugin 'tiny'.*pip install 'genzoo-tiny>=0.0.1'"):
        load_model(path, registry=empty)


def test_pickle_file_is_refused_without_unpickling(tmp_path):
    path = tmp_path / "evil.safetensors"

    class Boom:
        def __reduce__(self):
            return (exec, ("open('%s', 'w').write('pwned')" % (tmp_path / "pwned"),))

    path.write_bytes(pickle.dumps(Boom(), protocol=2))
    with pytest.raises(CheckpointError, match="pickle / torch.save file"):
        read_metadata(path)
    assert not (tmp_path / "pwned").exists()


def test_torch_save_zip_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    torch.save({"w": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match="pickle / torch.save file"):
        read_metadata(path)


def test_truncated_file_is_reported(checkpoint, tmp_path):
    _, path = checkpoint
    data = path.read_bytes()
    cut = tmp_path / "cut.safetensors"
    cut.write_bytes(data[: len(data) - 100])
    with pytest.raises(CheckpointError, match="is truncated"):
        read_metadata(cut)
    tiny = tmp_path / "tiny.safetensors"
    tiny.write_bytes(data[:5])
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        read_metadata(tiny)


def test_random_bytes_and_missing_files(tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(struct.pack("<Q", 10) + b"not json!!" + b"\0" * 20)
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        read_metadata(junk)
    with pytest.raises(CheckpointError, match="does not exist"):
        read_metadata(tmp_path / "nope.safetensors")


def test_safetensors_without_genzoo_metadata(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(3)}, str(path))
    with pytest.raises(CheckpointError, match="no genzoo metadata"):
        read_metadata(path)


def test_weights_that_do_not_match_the_model(tiny_registry, tmp_path):
    model = tiny_registry.build_model("tiny-gan", {"hidden": 8}, (1, 8, 8))
    path = save_model(tmp_path / "m.safetensors", model, meta(config={"hidden": 16}))
    with pytest.raises(Exception, match="size mismatch|does not match"):
        load_model(path)


def test_atomic_write_failure_keeps_the_old_file(tmp_path):
    path = tmp_path / "file.bin"
    path.write_bytes(b"old")

    def failing(tmp):
        tmp.write_bytes(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OutputError, match=r"could not write .*file.bin: No space left on device; free some space"):
        atomic_write(path, failing)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]


def test_mis_shaped_weights_are_one_line(tiny_registry, tmp_path):
    model = tiny_registry.build_model("tiny-gan", {"hidden": 8}, (1, 8, 8))
    path = save_model(tmp_path / "m.safetensors", model, meta())  # meta says hidden=16
    with pytest.raises(CheckpointError, match=r"does not fit model 'tiny-gan' of plugin tiny 0.0.1: size mismatch for"):
        load_model(path)
