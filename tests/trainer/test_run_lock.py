"""One trainer per run folder: a second process training into a busy folder is refused in one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from genzoo.errors import RunFolderBusy
from genzoo.runconfig import RunConfig, TrainConfig
from genzoo.runlock import LOCK_FILENAME, RunFolderLock
from genzoo.trainer import train

pytest.importorskip("fcntl")  # Windows trains unlocked


def tiny_config(steps=3) -> RunConfig:
    train_settings = TrainConfig(steps=steps, batch_size=8, log_every=1, sample_every=0, checkpoint_every=0, grid_size=4)
    return RunConfig(model="tiny-gan", dataset="tiny-blobs", train=train_settings)


def test_a_busy_folder_is_refused_and_left_as_it_was(tiny_registry, tmp_path):
    run = tmp_path / "run"
    first = train(tiny_config(2), run)  # a finished run, about to be extended
    holder = RunFolderLock(run)  # another open file description: flock conflicts as with another process
    holder.acquire()
    before = {p.name: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    try:
        with pytest.raises(RunFolderBusy, match=rf"^{run} is being trained by process \d+; wait for it to finish"):
            train(tiny_config(4), run)
        assert {p.name: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
    finally:
        holder.release()
    assert first.step == 2 and train(tiny_config(4), run).step == 4  # free again: it resumes and extends


def test_a_lock_left_by_a_process_that_died_does_not_block(tiny_registry, tmp_path):
    run = tmp_path / "run"
    code = f"from genzoo.runlock import RunFolderLock; RunFolderLock({str(run)!r}).acquire(); import os; os._exit(9)"
    subprocess.run([sys.executable, "-c", code], check=False)
    assert (run / LOCK_FILENAME).read_text().isdigit()  # its pid is still written there, but nobody holds it
    assert train(tiny_config(), run).step == 3
    assert not (run / LOCK_FILENAME).exists()  # the run that took it over removed it


def test_genzoo_run_into_a_busy_folder_is_one_line(tiny_registry, tmp_path):
    from typer.testing import CliRunner

    from genzoo.cli import build_app

    run = tmp_path / "run"
    holder = RunFolderLock(run)
    holder.acquire()
    try:
        result = CliRunner().invoke(build_app(tiny_registry.host), ["run", "tiny-gan", "--dataset", "tiny-blobs",
                                    "--steps", "2", "--out", str(run), "--no-progress", "--log", "tensorboard"])  # fmt: skip
        pid = (run / LOCK_FILENAME).read_text()
        assert sorted(p.name for p in run.iterdir()) == [LOCK_FILENAME]  # nothing of a run, nor of its tracker
    finally:
        holder.release()
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [f"genzoo: error: {run} is being trained by process {pid}; "
                                                  "wait for it to finish, or train into another folder (--out)"]
    assert list(run.iterdir()) == []  # the holder took its lock file with it


def test_releasing_leaves_a_lock_file_that_another_run_made_since(tmp_path):
    run = tmp_path / "run"
    first = RunFolderLock(run)
    first.acquire()
    (run / LOCK_FILENAME).unlink()  # the folder was emptied (a failed run's clean-up) and ...
    second = RunFolderLock(run)
    second.acquire()  # ... a new run locked a new file there
    first.release()
    assert (run / LOCK_FILENAME).exists()
    with pytest.raises(RunFolderBusy):
        RunFolderLock(run).acquire()  # still held by the second run alone
    second.release()
    assert not (run / LOCK_FILENAME).exists()


def test_a_forked_child_does_not_keep_the_folder_locked_after_its_parent(tmp_path):
    import multiprocessing
    import time

    run = tmp_path / "run"
    holder = RunFolderLock(run)
    holder.acquire()
    context = multiprocessing.get_context("fork")
    running = context.Event()

    def worker():  # a data-loader worker: by the time it runs, the fork hooks have run in it
        running.set()
        time.sleep(30)

    child = context.Process(target=worker)
    child.start()
    try:
        assert running.wait(10)
        holder._handle.close()  # the trainer dies without releasing; its child lives on
        taker = RunFolderLock(run)
        taker.acquire()  # the lock went with the parent: the child closed its copy when it was forked
        taker.release()
        holder.release()  # a handle closed elsewhere is let go quietly
    finally:
        child.kill()
        child.join()
