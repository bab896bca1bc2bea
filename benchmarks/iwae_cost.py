"""IWAE evaluation cost: one decoder call per chunk (before) against cache-sized decodes on NHWC weights.

Scores held-out mnist5k digits with a shipped checkpoint (default: the registry's vae-mnist5k),
k importance samples per image, in one process with alternating rounds:

* ``before``: the former evaluation, every chunk's ``chunk x batch`` rows in one decoder call
  (``decode_batch = chunk * batch``), weights as stored;
* ``after``: the current default (``decode_batch = 0``: 128 rows per call on a CPU) inside
  ``channels_last_on_cpu``.

Both draw the same noise (same generator seed), so their bounds must agree to float rounding.

    OMP_NUM_THREADS=1 python benchmarks/iwae_cost.py [--images 10] [--samples 500] [--rounds 2]

Prints the median seconds of each side, the speed-up with its per-round range, and the largest
difference of the per-image log-likelihood bounds (nats).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from genzoo.checkpoint import load_model
from genzoo.registry import get_registry
from genzoo_metrics.configs import LikelihoodConfig
from genzoo_metrics.likelihood import channels_last_on_cpu, importance_weights_summary


def score(model: torch.nn.Module, images: torch.Tensor, cfg: LikelihoodConfig, fast: bool) -> tuple[float, torch.Tensor]:
    """Seconds and per-image L_k over ``images`` in batches of ``cfg.batch_size``."""
    generator = torch.Generator().manual_seed(0)
    bounds = []
    start = time.perf_counter()
    with channels_last_on_cpu(model, "cpu") if fast else torch.no_grad():
        for first in range(0, len(images), cfg.batch_size):
            x = images[first : first + cfg.batch_size]
            rows = 0 if fast else cfg.chunk * len(x)
            bounds.append(importance_weights_summary(model, x, cfg.samples, cfg.chunk, generator, rows)["log_likelihood"])
    return time.perf_counter() - start, torch.cat(bounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="registry/vae-mnist5k/v1/model.safetensors")
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    cfg = LikelihoodConfig(samples=args.samples)  # chunk 500, batch 20: the metric's defaults
    model, _ = load_model(args.checkpoint)
    model.eval()
    data = get_registry().build_dataset("mnist5k", None, "test", None)
    images = torch.stack([data[i] for i in range(args.images)])
    times: dict[bool, list[float]] = {False: [], True: []}
    values: dict[bool, torch.Tensor] = {}
    for _ in range(args.rounds):
        for fast in (False, True):
            seconds, values[fast] = score(model, images, cfg, fast)
            times[fast].append(seconds)
    before, after = statistics.median(times[False]), statistics.median(times[True])
    ratios = [b / a for b, a in zip(times[False], times[True])]
    print(f"{args.checkpoint}: {args.images} images, k={args.samples}, chunk {cfg.chunk}, batch {cfg.batch_size}, "
          f"{torch.get_num_threads()} torch thread(s), torch {torch.__version__}, load {os.getloadavg()[0]:.1f}")
    print(f"before {before:.2f} s   after {after:.2f} s   speed-up {before / after:.2f}x "
          f"(rounds {min(ratios):.2f}-{max(ratios):.2f}x)")
    print(f"mean L_k before {float(values[False].mean()):.5f}  after {float(values[True].mean()):.5f}  "
          f"max per-image |difference| {float((values[False] - values[True]).abs().max()):.2e} nats")


if __name__ == "__main__":
    main()
