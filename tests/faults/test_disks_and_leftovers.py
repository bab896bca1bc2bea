"""Full and read-only disks (a real 2 MB tmpfs where root may mount one, and simulated ENOSPC),
and what an interrupted run leaves behind: each write fails in one line and leaves nothing."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.faults.campaign import files_under, refused, survived
from tests.faults.conftest import TINY_RUN

runner = CliRunner()


def _mount(path: Path, options: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True)
    return done.returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB tmpfs filled to the last block (skipped where mounting is not permitted)."""
    disk = tmp_path / f"disk-{uuid.uuid4().hex[:6]}"
    if not _mount(disk, "size=2m"):
        pytest.skip("mounting a tmpfs needs root and mount(8) permission (not available here)")
    try:
        with (disk / "filler").open("wb", buffering=0) as handle:
            try:
                while True:
                    handle.write(b"\0" * 4096)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


@pytest.fixture
def read_only_disk(tmp_path):
    disk = tmp_path / f"ro-{uuid.uuid4().hex[:6]}"
    if not _mount(disk, "size=2m,ro"):
        pytest.skip("mounting a tmpfs needs root and mount(8) permission (not available here)")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def _commands(run: Path, target: Path, registry: Path) -> dict[str, list[str]]:
    return {
        "sample -o": ["sample", str(run), "-n", "4", "-o", str(target / "grid.png")],
        "sample --out-dir": ["sample", str(run), "-n", "4", "--out-dir", str(target / "each")],
        "run": [*TINY_RUN, "--steps", "2", "--out", str(target / "run")],
        "export": ["export", str(run), str(target / "exported")],
        "push": ["push", str(run), "--registry", str(target / "registry"), "--name", "tiny"],
    }


COMMANDS = ["sample -o", "sample --out-dir", "run", "export", "push"]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_full_disk_is_one_line_and_leaves_nothing(cli, run, small_disk, command, tmp_path):
    before = files_under(small_disk)
    result = runner.invoke(cli, _commands(run, small_disk, tmp_path / "registry")[command])
    refused(result, contains="No space left on device", before=before, root=small_disk)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_read_only_disk_is_one_line(cli, run, read_only_disk, command, tmp_path):
    result = runner.invoke(cli, _commands(run, read_only_disk, tmp_path / "registry")[command])
    refused(result, contains="Read-only file system", before=set(), root=read_only_disk)


def test_pull_into_a_full_cache_is_one_line_and_caches_nothing(cli, run, small_disk, tmp_path, monkeypatch):
    registry = tmp_path / "registry"
    assert runner.invoke(cli, ["push", str(run), "--registry", str(registry), "--name", "tiny"]).exit_code == 0
    monkeypatch.setenv("GENZOO_CACHE_DIR", str(small_disk / "cache"))
    before = files_under(small_disk)
    result = runner.invoke(cli, ["pull", "tiny", "--registry", f"file://{registry}"])
    refused(result, contains="No space left on device", before=before, root=small_disk)


def test_a_checkpoint_write_failing_inside_safetensors_is_one_line(cli, run, monkeypatch):
    """The safetensors library reports a full disk as SafetensorError, which is no OSError."""
    from safetensors import SafetensorError

    import genzoo.checkpoint

    def full(path, tensors, metadata):
        Path(path).write_bytes(b"partial")
        raise SafetensorError("Error while serializing: IoError(Os { code: 28, kind: StorageFull })")

    monkeypatch.setattr(genzoo.checkpoint, "write_safetensors", full)
    result = runner.invoke(cli, [*TINY_RUN, "--steps", "6", "--out", str(run)])
    refused(result, contains="could not write checkpoint step 6")
    assert "step-00000004 is intact" in result.stderr
    assert not any(p.name.startswith(".") for p in (run / "checkpoints").iterdir())


def test_a_first_checkpoint_that_cannot_be_written_leaves_no_run_folder(cli, tmp_path, monkeypatch):
    import errno

    import genzoo.checkpoint

    def full(path, tensors, metadata):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(genzoo.checkpoint, "write_safetensors", full)
    fresh = tmp_path / "fresh"
    refused(runner.invoke(cli, [*TINY_RUN, "--steps", "6", "--out", str(fresh)]), contains="could not write checkpoint")
    assert not fresh.exists()  # no config.json and empty checkpoints/ pretending to be a run


def test_enospc_while_appending_metrics_leaves_no_partial_line(cli, run, monkeypatch):
    import genzoo.runfolder

    real_open = Path.open

    class FullFile:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def tell(self):
            return self.handle.tell()

        def write(self, data):
            self.handle.write(data[:7])
            self.handle.flush()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def flush(self):
            self.handle.flush()

        def truncate(self, size):
            return self.handle.truncate(size)

    def opener(self, mode="r", *args, **kwargs):
        handle = real_open(self, mode, *args, **kwargs)
        return FullFile(handle) if self.name == "metrics.jsonl" and "a" in mode else handle

    monkeypatch.setattr(genzoo.runfolder.Path, "open", opener)
    refused(runner.invoke(cli, [*TINY_RUN, "--steps", "6", "--out", str(run)]), contains="No space left on device")
    monkeypatch.undo()
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [1, 2, 3, 4]


def test_a_partial_last_metrics_line_does_not_stop_a_resume(cli, run):
    with (run / "metrics.jsonl").open("a") as handle:
        handle.write('{"step": 5, "generator/lo')
    survived(runner.invoke(cli, [*TINY_RUN, "--steps", "6", "--out", str(run)]), contains="resuming")
    assert [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3, 4, 5, 6]


def test_resume_removes_every_leftover_of_a_killed_run(cli, run):
    leftovers = [run / f".model.safetensors.tmp-{os.getpid() + 1}", run / "samples" / ".step-00000006.png.tmp-77",
                 run / "checkpoints" / "step-00000004" / ".trainer_state.safetensors.tmp-12"]
    for path in leftovers:
        path.write_bytes(b"half")
    staging = run / "checkpoints" / ".step-00000006.tmp"
    staging.mkdir()
    (staging / "model.safetensors").write_bytes(b"half")
    stderr = survived(runner.invoke(cli, [*TINY_RUN, "--steps", "6", "--out", str(run)]), contains="removed 4 leftover")
    assert "resuming" in stderr
    assert not any(p.exists() for p in leftovers) and not staging.exists()
    assert not [p for p in run.rglob(".*")]


def test_a_restart_after_a_kill_before_the_first_checkpoint_logs_each_step_once(cli, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.jsonl").write_text("".join(json.dumps({"step": s, "generator/loss": 0.0}) + "\n" for s in (1, 2)))
    result = runner.invoke(cli, [*TINY_RUN, "--steps", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]


def test_a_second_interrupt_ends_in_one_line_with_status_130(cli, tmp_path, monkeypatch):
    import genzoo.trainer

    def interrupted_twice(self, on_log=None):
        raise KeyboardInterrupt  # what the signal handler raises on the second SIGINT

    monkeypatch.setattr(genzoo.trainer.Trainer, "fit", interrupted_twice)
    result = runner.invoke(cli, [*TINY_RUN, "--steps", "6", "--out", str(tmp_path / "r")])
    assert result.exit_code == 130 and "genzoo: interrupted" in result.stderr and "Traceback" not in result.stderr


def test_a_run_folder_deleted_under_a_running_run_is_one_line(cli, tmp_path, monkeypatch):
    import genzoo.trainer

    out = tmp_path / "run"
    append = genzoo.trainer.append_jsonl

    def deleted_first(path, record):  # someone removes the folder while the run trains
        shutil.rmtree(out, ignore_errors=True)
        append(path, record)

    monkeypatch.setattr(genzoo.trainer, "append_jsonl", deleted_first)
    line = refused(runner.invoke(cli, [*TINY_RUN, "--steps", "2", "--out", str(out)]), contains="metrics.jsonl")
    assert line.endswith("No such file or directory")
