"""Hostile and corrupt checkpoint files: each is refused in one line by `sample` and `info`, and
a run whose newest checkpoint is one of them resumes from the newest intact checkpoint."""

from __future__ import annotations

import json
import os
import pickle
import struct
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.faults.campaign import assemble, deep, files_under, filled, refused, retyped, split, survived, with_metadata
from tests.faults.conftest import TINY_RUN

runner = CliRunner()


def _tensors(header):
    return sorted(k for k in header if k != "__metadata__")


def _edit_tensor(header, data, **info):
    first = _tensors(header)[0]
    return assemble({**header, first: {**header[first], **info}}, data)


def _drop(header, data, key):
    first = _tensors(header)[0]
    return assemble({**header, first: {k: v for k, v in header[first].items() if k != key}}, data)


def _config(header, data, **changes):
    config = {**json.loads(header["__metadata__"]["config"]), **changes}
    return with_metadata(header, data, config=json.dumps(config))


class Boom:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


# name -> (build(header, data, raw bytes) -> bytes, words of the one-line refusal)
KINDS = {
    "empty": (lambda h, d, r: b"", "not a safetensors file"),
    "four bytes": (lambda h, d, r: r[:4], "not a safetensors file"),
    "truncated in the header": (lambda h, d, r: r[:40], "not a safetensors file"),
    "truncated in the data": (lambda h, d, r: r[: len(r) - 100], "truncated"),
    "header length 2^63": (lambda h, d, r: struct.pack("<Q", 2**63) + r[8:], "not a safetensors file"),
    "header length 0": (lambda h, d, r: struct.pack("<Q", 0) + r[8:], "not a safetensors file"),
    "header length past the end": (lambda h, d, r: struct.pack("<Q", len(r)) + r[8:], "not a safetensors file"),
    "pickle": (lambda h, d, r: pickle.dumps(Boom()), "pickle"),
    "torch.save zip": (lambda h, d, r: b"PK\x03\x04" + b"\0" * 64, "pickle / torch.save"),
    "random bytes": (lambda h, d, r: bytes(range(256)) * 8, "not a safetensors file"),
    "header not JSON": (lambda h, d, r: assemble(None, d, raw_header=b"{not json" + b" " * 7), "not valid JSON"),
    "header a list": (lambda h, d, r: assemble([1, 2], d), "not a safetensors file"),
    "header invalid UTF-8": (lambda h, d, r: assemble(None, d, raw_header=b'{"\xff\xfe": 1}   '), "not valid JSON"),
    "header nested 100,000 deep": (lambda h, d, r: assemble(None, d, raw_header=('{"a":' + deep(100_000) + "}").encode()),
                                   "nested"),
    "__metadata__ a list": (lambda h, d, r: assemble({**h, "__metadata__": ["format"]}, d), "map strings to strings"),
    "metadata value an object": (lambda h, d, r: assemble({**h, "__metadata__": {**h["__metadata__"], "step": {"a": 1}}}, d),
                                 "map strings to strings"),
    "metadata value a number": (lambda h, d, r: assemble({**h, "__metadata__": {**h["__metadata__"], "step": 4}}, d),
                                "map strings to strings"),
    "no data_offsets": (lambda h, d, r: _drop(h, d, "data_offsets"), "exactly dtype, shape and data_offsets"),
    "string data_offsets": (lambda h, d, r: _edit_tensor(h, d, data_offsets=["0", "64"]), "invalid data_offsets"),
    "shape a string": (lambda h, d, r: _edit_tensor(h, d, shape="abc"), "invalid shape"),
    "negative shape": (lambda h, d, r: _edit_tensor(h, d, shape=[-1, 4]), "invalid shape"),
    "unknown dtype": (lambda h, d, r: _edit_tensor(h, d, dtype="F128"), "unknown dtype"),
    "offsets overlap": (lambda h, d, r: _edit_tensor(h, d, data_offsets=[4, 4 + h[_tensors(h)[0]]["data_offsets"][1]
                                                                       - h[_tensors(h)[0]]["data_offsets"][0]]),
                        "overlaps or leaves a gap"),
    "span does not match the shape": (lambda h, d, r: _edit_tensor(h, d, shape=[1]), "needs"),
    "bytes after the last tensor": (lambda h, d, r: r + b"\0" * 16, "after its last tensor"),
    "extra field in a tensor": (lambda h, d, r: _edit_tensor(h, d, code="print(1)"), "exactly dtype"),
    "another format": (lambda h, d, r: with_metadata(h, d, format="evil/1"), "expected a genzoo model checkpoint"),
    "no genzoo metadata": (lambda h, d, r: assemble({k: v for k, v in h.items() if k != "__metadata__"}, d),
                           "no genzoo metadata"),
    "config field missing": (lambda h, d, r: with_metadata(h, d, config=None), "lacks checkpoint metadata: config"),
    "config not JSON": (lambda h, d, r: with_metadata(h, d, config="{oops"), "not valid JSON"),
    "config nested 100,000 deep": (lambda h, d, r: with_metadata(h, d, config=deep(100_000)), "nested"),
    "config a list": (lambda h, d, r: with_metadata(h, d, config="[1]"), "must be a JSON dict"),
    "data_shape a string": (lambda h, d, r: with_metadata(h, d, data_shape='"abc"'), "data_shape"),
    "data_shape enormous": (lambda h, d, r: with_metadata(h, d, data_shape="[1, 100000, 100000]"), "data_shape"),
    "step not a number": (lambda h, d, r: with_metadata(h, d, step='"x"'), "must be a JSON int"),
    "latent_dim 10^9": (lambda h, d, r: _config(h, d, latent_dim=10**9), "size mismatch"),
    "weights stored as I8": (lambda h, d, r: retyped(h, d, "I8"), "cannot hold float weights"),
    "weights stored as BOOL": (lambda h, d, r: retyped(h, d, "BOOL"), "cannot hold float weights"),
    "all weights NaN": (lambda h, d, r: filled(h, d, float("nan")), "NaN or infinity"),
    "all weights infinite": (lambda h, d, r: filled(h, d, float("inf")), "NaN or infinity"),
    "another model's shapes": (lambda h, d, r: _config(h, d, hidden=16), "size mismatch"),
}
FILE_KINDS = {"empty", "four bytes", "pickle", "torch.save zip", "random bytes"}


def build(kind: str, good: Path, target: Path) -> Path:
    header, data = split(good)
    target.write_bytes(KINDS[kind][0](header, data, good.read_bytes()))
    return target


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_sample_refuses_in_one_line(cli, finished_run, tmp_path, kind):
    bad = build(kind, finished_run / "model.safetensors", tmp_path / "bad.safetensors")
    before = files_under(tmp_path)
    result = runner.invoke(cli, ["sample", str(bad), "-n", "4", "-o", str(tmp_path / "grid.png")])
    refused(result, contains=KINDS[kind][1], before=before, root=tmp_path)
    assert not Path("PWNED").exists()


HEADER_KINDS = sorted(k for k in KINDS if k not in ("latent_dim 10^9", "weights stored as I8", "weights stored as BOOL",
                                                     "all weights NaN", "all weights infinite", "another model's shapes"))


@pytest.mark.parametrize("kind", HEADER_KINDS)
def test_info_refuses_in_one_line(cli, finished_run, tmp_path, kind):
    bad = build(kind, finished_run / "model.safetensors", tmp_path / "bad.safetensors")
    refused(runner.invoke(cli, ["info", str(bad)]), contains=KINDS[kind][1])


RESUME_KINDS = sorted(set(KINDS) - {"latent_dim 10^9", "another model's shapes"}) + ["symlink", "folder", "looping link"]


@pytest.mark.parametrize("kind", RESUME_KINDS)
def test_resume_skips_a_bad_newest_checkpoint_in_one_line_and_uses_the_older(cli, run, kind):
    newest = run / "checkpoints" / "step-00000004" / "model.safetensors"
    if kind == "symlink":
        newest.unlink()
        newest.symlink_to(run / "checkpoints" / "step-00000002" / "model.safetensors")
    elif kind == "folder":
        newest.unlink()
        newest.mkdir()
        (run / "checkpoints" / "step-00000004" / "trainer_state.safetensors").unlink()
        (run / "checkpoints" / "step-00000004" / "trainer_state.safetensors").mkdir()
    elif kind == "looping link":
        newest.unlink()
        newest.symlink_to(newest)
    else:
        build(kind, newest, newest)
    result = runner.invoke(cli, [*TINY_RUN, "--steps", "6", "--out", str(run)])
    stderr = survived(result, contains="skipping checkpoint step-00000004")
    assert "resuming" in stderr and "step-00000002" in stderr
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5, 6]
    assert sorted(p.name for p in (run / "checkpoints").iterdir())[-1] == "step-00000006"


def test_a_bad_training_state_is_skipped_too(cli, run):
    state = run / "checkpoints" / "step-00000004" / "trainer_state.safetensors"
    header, data = split(state)
    state.write_bytes(with_metadata(header, data, optimizers=deep(100_000)))
    survived(runner.invoke(cli, [*TINY_RUN, "--steps", "5", "--out", str(run)]), contains="skipping checkpoint step-00000004")


def test_no_usable_checkpoint_is_one_line(cli, run):
    for folder in (run / "checkpoints").iterdir():
        (folder / "model.safetensors").write_bytes(b"\x80\x04K\x01.")
    refused(runner.invoke(cli, [*TINY_RUN, "--steps", "6", "--out", str(run)]), contains="has no usable checkpoint")


def test_a_damaged_step_folder_is_never_pruned_into_or_copied_as_the_final_model(cli, run):
    """A looping link where step 4's model belongs: resume uses step 2, and pruning to one kept
    checkpoint keeps the new good one, not the damaged folder."""
    newest = run / "checkpoints" / "step-00000004" / "model.safetensors"
    newest.unlink()
    newest.symlink_to(newest)
    result = runner.invoke(cli, [*TINY_RUN, "--steps", "3", "--set", "train.keep_last=1", "--out", str(run)])
    survived(result, contains="skipping checkpoint step-00000004")
    kept = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert "step-00000003" in kept and "step-00000002" not in kept
    assert (run / "model.safetensors").is_file() and not (run / "model.safetensors").is_symlink()
    again = runner.invoke(cli, [*TINY_RUN, "--steps", "3", "--out", str(run)])
    survived(again)
