"""Cost of one training iteration of every model: FLOPs, seconds, peak memory, fraction of GEMM peak.

For each model (every one the registry lists, default configs) and data shape, a fresh process
builds the model for random data of that shape, counts the FLOPs of one training iteration with
``torch.utils.flop_counter``'s formulas (``benchmarks/flops.py``) (every player step, forward and backward, the
gradient penalty's double backward included; matmuls and convolutions only, as usual for MFU),
then times ``--steps`` more iterations of :func:`genzoo.steps.run_iteration` and reads the peak
resident memory they added. The fp32 GEMM peak is measured in the same run (a square matmul,
median of 5) with the same thread count, so MFU = FLOPs / s / GEMM peak.

    python benchmarks/model_cost.py [--models vae wgan-gp] [--shapes 28 64 128 32^3 64^3]
        [--batch 16] [--steps 2] [--threads 2] [--variant default|channels_last|compile|bf16] [--set KEY=VALUE ...]

Prints one markdown table row per (model, shape); a shape a model cannot take, or a run over
``--timeout`` seconds, is reported as such.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import torch
from flops import FlopCount

SHAPES = {"28": (1, 28, 28), "64": (1, 64, 64), "128": (1, 128, 128), "32^3": (1, 32, 32, 32), "64^3": (1, 64, 64, 64)}


def gemm_peak(threads: int, n: int = 2048, repeats: int = 5) -> float:
    """fp32 GFLOP/s of an n x n x n matmul on this CPU (median of ``repeats``)."""
    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return 2 * n**3 / statistics.median(times) / 1e9


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure_one(model_name: str, shape: tuple[int, ...], batch: int, steps: int, threads: int, variant: str,
                overrides: list[str] | None = None) -> dict:
    """Parameters, FLOPs, median s/iteration and added peak memory of one model at one shape."""
    from genzoo.config import apply_overrides, to_dict
    from genzoo.registry import get_registry
    from genzoo.steps import StepOptions, build_optimizers, check_players, run_iteration

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    registry = get_registry()
    spec = registry.get("model", model_name)
    # --set completes the model's own defaults (as `genzoo run --set` does), so net.X=... keeps e.g. wgan-gp's
    # 64-wide critic instead of falling back to NetConfig's class defaults
    config = registry.make_config(spec, apply_overrides(to_dict(registry.make_config(spec, None)), overrides or []))
    model = registry.build_model(model_name, config, shape)
    players, optimizers = check_players(model), build_optimizers(model)
    data = torch.rand(batch, *shape) * 2 - 1
    if variant == "channels_last" and len(shape) == 3:
        model.to(memory_format=torch.channels_last)
        data = data.contiguous(memory_format=torch.channels_last)
    if variant == "compile":
        for child in model.children():
            child.compile()
    # bf16: the trainer's --precision bf16 (autocast around every player's loss; fp32 weights and optimiser)
    options = StepOptions("cpu", torch.bfloat16) if variant == "bf16" else None
    model.train()
    base = _rss_mb()
    counter = FlopCount()
    with counter:  # doubles as the warm-up iteration (and compiles, for --variant compile)
        run_iteration(model, players, optimizers, lambda: data, step=1, options=options)
    times = []
    for step in range(steps):
        start = time.perf_counter()
        run_iteration(model, players, optimizers, lambda: data, step=step + 2, options=options)
        times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "params": sum(p.numel() for p in model.parameters()),
        "flops": counter.total,
        "seconds": statistics.median(times),
        "spread": [min(times), max(times)],
        "peak_mb": max(peak - base, 0.0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=None, help="default: every registered model")
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--variant", default="default", choices=["default", "channels_last", "compile", "bf16"])
    parser.add_argument("--timeout", type=int, default=600)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a model setting, as genzoo run --set takes it (e.g. net.generator_width=64)")
    parser.add_argument("--one", nargs=2, metavar=("MODEL", "SHAPE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        result = measure_one(args.one[0], SHAPES[args.one[1]], args.batch, args.steps, args.threads, args.variant,
                             args.overrides)
        print("RESULT " + json.dumps(result))
        return
    from genzoo.registry import get_registry

    models = args.models or list(get_registry().names("model"))
    peak = gemm_peak(args.threads)
    print(f"fp32 GEMM peak {peak:.1f} GFLOP/s ({args.threads} threads), torch {torch.__version__}, batch {args.batch}, "
          f"variant {args.variant}, settings {args.overrides or 'default'}, load {os.getloadavg()[0]:.1f}")
    print("| model | shape | parameters | GFLOP/iteration | s/iteration (min–max) | GFLOP/s | MFU | peak memory added |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for name in models:
        for shape in args.shapes:
            command = [sys.executable, __file__, "--one", name, shape, "--batch", str(args.batch), "--steps",
                       str(args.steps), "--threads", str(args.threads), "--variant", args.variant]
            command += [f"--set={item}" for item in args.overrides]
            try:
                done = subprocess.run(command, capture_output=True, text=True, timeout=args.timeout)
            except subprocess.TimeoutExpired:
                print(f"| {name} | {shape} | | | over {args.timeout} s | | | |", flush=True)
                continue
            lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
            if not lines:
                reason = (done.stderr.strip().splitlines() or ["failed"])[-1][:90]
                print(f"| {name} | {shape} | n/a: {reason} | | | | | |", flush=True)
                continue
            r = json.loads(lines[0][7:])
            rate = r["flops"] / r["seconds"] / 1e9
            print(f"| {name} | {shape} | {r['params']:,} | {r['flops'] / 1e9:.2f} | {r['seconds']:.3f} "
                  f"({r['spread'][0]:.3f}–{r['spread'][1]:.3f}) | {rate:.1f} | {rate / peak:.1%} | {r['peak_mb']:.0f} MB |",
                  flush=True)
    print(f"GEMM peak after the runs: {gemm_peak(args.threads):.1f} GFLOP/s, load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
