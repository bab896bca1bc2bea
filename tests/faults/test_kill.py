"""A real SIGKILL in the middle of training: the resume continues from the newest checkpoint,
removes the leftovers and logs every step exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.faults.campaign import survived
from tests.faults.conftest import TINY_RUN

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]

TRAIN = textwrap.dedent("""
    import sys, torch
    torch.set_num_threads(1)
    from genzoo.cli import build_app
    from tests.sharing.conftest import tiny_host
    build_app(tiny_host())(args=sys.argv[1:], prog_name="genzoo")
""")


@pytest.mark.slow
def test_sigkill_after_a_checkpoint_then_resume(cli, tmp_path):
    out = tmp_path / "run"
    args = [*TINY_RUN, "--steps", "100000", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    child = subprocess.Popen([sys.executable, "-c", TRAIN, *args], cwd=REPO, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and len(list((out / "checkpoints").glob("step-*"))) < 2:
            time.sleep(0.2)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait()
    assert len(list((out / "checkpoints").glob("step-*"))) >= 2
    # a kill mid-write would also leave these (the exact moment is up to the scheduler)
    (out / f".model.safetensors.tmp-{child.pid}").write_bytes(b"half")
    (out / "checkpoints" / ".step-99999998.tmp").mkdir(exist_ok=True)
    newest = max(int(p.name[5:]) for p in (out / "checkpoints").glob("step-*"))
    target = newest + 2
    result = runner.invoke(cli, [*TINY_RUN, "--steps", str(target), "--out", str(out)])
    survived(result, contains="removed")
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert steps == list(range(1, target + 1))
    assert not [p for p in out.rglob(".*")]
