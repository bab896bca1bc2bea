"""DistributedDataParallel on CPU: two gloo processes end with identical parameters.

The ranks draw different data shards and different noise, so without gradient all-reduce
their parameters would drift apart after the first step.
"""

from __future__ import annotations

import json
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    from genzoo.plugins import PluginHost
    from genzoo.registry import Registry
    from genzoo.runconfig import RunConfig, TrainConfig
    from genzoo.trainer import Trainer
    from tests.conftest import FakeEntryPoint

    registry = Registry(PluginHost([FakeEntryPoint("tiny", "tests.fakes.tiny_plugin")], strict=True, disabled=()))
    config = RunConfig(model="tiny-gan", dataset="tiny-blobs",
                       train=TrainConfig(steps=4, batch_size=8, log_every=2, sample_every=0, checkpoint_every=2, grid_size=4))
    trainer = Trainer(config, os.path.join(out, "run"), registry=registry, progress=False)
    trainer.fit()
    params = {name: p.detach().clone().contiguous() for name, p in trainer.model.named_parameters()}
    save_file(params, os.path.join(out, f"rank{rank}.safetensors"))


@pytest.mark.slow
def test_two_gloo_ranks_end_with_identical_parameters(tmp_path):
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    rank0, rank1 = load_file(str(tmp_path / "rank0.safetensors")), load_file(str(tmp_path / "rank1.safetensors"))
    assert rank0.keys() == rank1.keys() and rank0
    for name in rank0:
        assert torch.equal(rank0[name], rank1[name]), name
    # only rank 0 wrote the run folder; logged metrics were averaged over ranks
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [2, 4]
    assert (tmp_path / "run" / "model.safetensors").is_file()


@pytest.mark.slow
def test_torchrun_runs_the_cli_on_two_cpu_processes(tmp_path):
    """The documented command: torchrun ... -m genzoo run MODEL --out DIR (gloo on CPU)."""
    import subprocess
    import sys

    out = tmp_path / "run"
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
        "-m", "genzoo", "run", "vae", "--steps", "3", "--batch-size", "8", "--out", str(out), "--no-progress",
        "--set", "latent_dim=4", "--set", "net.encoder_width=4", "--set", "net.generator_width=4",
        "--set", "train.log_every=1", "--device", "cpu",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [1, 2, 3]  # written once, by rank 0
    assert (out / "model.safetensors").is_file()
    assert result.stdout.count("trained vae") == 1  # rank 0 reports
    # DDP warns from C++ (TORCH_WARN_ONCE, one line per rank) that find_unused_parameters found none
    # unused on a step; Python warning filters cannot silence it, so it is not asserted away here.
    assert result.stderr.count("genzoo: training vae") == 1
