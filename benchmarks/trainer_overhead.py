"""Trainer overhead: the genzoo trainer against a bare hand-written PyTorch loop.

Same model (built through the registry), same data (mnist5k, 28x28), same batch size and seed, in
one process, alternating blocks of steps so machine noise hits both sides alike. The bare loop
indexes a tensor for its batches and steps each player by hand; the trainer does what
`genzoo run` does (data stream, per-player steps with NaN checks, logging; sample grids and
checkpoints are switched off so only the loop is compared).

    python benchmarks/trainer_overhead.py [--models wgan-gp vae] [--rounds 5] [--steps 20]

Prints the median seconds per training iteration of each side and the ratio genzoo / bare.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from genzoo.registry import get_registry
from genzoo.runconfig import RunConfig, TrainConfig
from genzoo.steps import build_optimizers, check_players
from genzoo.trainer import Trainer


def bare_loop_seconds(model_name: str, steps: int, batch_size: int, seed: int) -> float:
    """Seconds per iteration of a hand-written loop over the same model and data."""
    registry = get_registry()
    torch.manual_seed(seed)
    data = registry.build_dataset("mnist5k", None, "train", None).images.float()
    model = registry.build_model(model_name, None, data.shape[1:])
    players = check_players(model)
    optimizers = build_optimizers(model)
    order = torch.randperm(len(data))
    cursor = 0

    def next_batch() -> torch.Tensor:
        nonlocal cursor
        if cursor + batch_size > len(order):
            cursor = 0
        batch = data[order[cursor : cursor + batch_size]]
        cursor += batch_size
        return batch

    model.train()
    times = []
    for _ in range(steps + 2):
        start = time.perf_counter()
        for player in players:
            for _ in range(player.steps):
                batch = next_batch()
                model.zero_grad(set_to_none=True)
                terms = model.loss(player.name, batch)
                terms["loss"].backward()
                optimizers[player.name].step()
        times.append(time.perf_counter() - start)
    return statistics.median(times[2:])  # the first iterations warm up allocators


def genzoo_seconds(model_name: str, steps: int, batch_size: int, seed: int) -> float:
    """Seconds per iteration inside Trainer.fit, from timestamps taken at logging steps (every 5)."""
    window = 5
    stamps: list[float] = []
    config = RunConfig(
        model=model_name,
        dataset="mnist5k",
        train=TrainConfig(steps=steps + window, batch_size=batch_size, seed=seed, log_every=window,
                          sample_every=0, checkpoint_every=0, keep_last=1),
    )
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(config, Path(tmp) / "run", progress=False)
        trainer.fit(on_log=lambda record: stamps.append(time.perf_counter()))
    # the first window warms up; every later window is `window` iterations long
    return statistics.median((b - a) / window for a, b in zip(stamps, stamps[1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["wgan-gp", "vae"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"torch {torch.__version__}, batch {args.batch_size}, 28x28 mnist5k")
    print(f"{'model':10s} {'bare s/it':>10s} {'genzoo s/it':>12s} {'ratio':>7s}")
    for model_name in args.models:
        bare, ours = [], []
        for round_index in range(args.rounds):
            bare.append(bare_loop_seconds(model_name, args.steps, args.batch_size, round_index))
            ours.append(genzoo_seconds(model_name, args.steps, args.batch_size, round_index))
        b, g = statistics.median(bare), statistics.median(ours)
        ratios = sorted(o / r for o, r in zip(ours, bare))
        print(f"{model_name:10s} {b:10.4f} {g:12.4f} {g / b:7.3f}   per-round ratios {', '.join(f'{x:.3f}' for x in ratios)}")


if __name__ == "__main__":
    main()
