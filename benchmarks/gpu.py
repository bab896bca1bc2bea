"""Fill a GPU: images/s, peak memory and MFU of every model at 28, 64, 128 px and 32^3.

For each model (default configs), shape and variant (fp32, bf16 autocast, bf16 + torch.compile)
it builds the model on the device for random data in [-1, 1] (batch ``--batch``, channels-last
for 2D on CUDA as the trainer does), counts one training iteration's FLOPs with
``torch.utils.flop_counter``'s formulas (``benchmarks/flops.py``) (all players, forward and backward), runs warm-up iterations (compilation
happens there), then trains for ``--seconds`` (at most ``--steps`` iterations) with
:func:`genzoo.steps.run_iteration` and the trainer's device-side NaN watch, synchronising only
at the start and the end. MFU = FLOPs per second / the device's matmul peak, measured in the same
run for the variant's dtype (fp32 as the trainer runs it, bf16) unless ``--peak-tflops`` gives
a spec-sheet figure.

    python benchmarks/gpu.py                       # CUDA, every model, short budget (~10 min)
    python benchmarks/gpu.py --device cpu --models vae --shapes 28 --seconds 1 --steps 3   # smoke test

Stops starting new runs after ``--budget`` seconds and prints what it measured; a run that fails
(out of memory, say) is reported in its row.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time

import torch
from flops import FlopCount

from genzoo.steps import FiniteWatch, StepOptions, build_optimizers, check_players, run_iteration

SHAPES = {"28": (1, 28, 28), "64": (1, 64, 64), "128": (1, 128, 128), "32^3": (1, 32, 32, 32), "64^3": (1, 64, 64, 64)}
VARIANTS = {"fp32": (None, False), "bf16": (torch.bfloat16, False), "bf16-compile": (torch.bfloat16, True),
            "fp32-compile": (None, True)}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(device: torch.device, dtype: torch.dtype, n: int) -> float:
    """FLOP/s of an n x n x n matmul in ``dtype`` on ``device`` (median of 5)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    times = []
    for _ in range(5):
        synchronize(device)
        start = time.perf_counter()
        for _ in range(4):
            a @ b
        synchronize(device)
        times.append((time.perf_counter() - start) / 4)
    return 2 * n**3 / statistics.median(times)


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # the process's peak RSS


def run_one(name: str, shape: tuple[int, ...], variant: str, args: argparse.Namespace, device: torch.device) -> dict:
    """Train one model at one shape and variant; images/s, peak memory, FLOPs per iteration."""
    from genzoo.registry import get_registry

    dtype, compiled = VARIANTS[variant]
    torch.manual_seed(0)
    model = get_registry().build_model(name, None, shape).to(device)
    data = torch.rand(args.batch, *shape, device=device) * 2 - 1
    if device.type == "cuda" and len(shape) == 3:
        model.to(memory_format=torch.channels_last)
        data = data.contiguous(memory_format=torch.channels_last)
    players, optimizers = check_players(model), build_optimizers(model)
    watch = FiniteWatch(players)
    options = StepOptions(device.type, dtype, {}, None, watch)
    params = sum(p.numel() for p in model.parameters())
    model.train()
    counter = FlopCount()
    with counter:  # eager, before compiling: a dispatch mode does not see inside compiled graphs
        run_iteration(model, players, optimizers, lambda: data, step=1, options=options)
    if compiled:
        for child in model.children():
            child.compile()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for step in range(args.warmup):
        run_iteration(model, players, optimizers, lambda: data, step=step + 2, options=options)
    synchronize(device)
    start, done = time.perf_counter(), 0
    while done < args.steps and (done == 0 or time.perf_counter() - start < args.seconds):
        run_iteration(model, players, optimizers, lambda: data, step=done + 2 + args.warmup, options=options)
        done += 1
    synchronize(device)
    elapsed = time.perf_counter() - start
    watch.check()
    images = args.batch * sum(p.steps for p in players) * done
    return {"params": params, "flops": counter.total, "iterations": done, "seconds": elapsed,
            "images_per_s": images / elapsed, "peak_mb": peak_memory_mb(device)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--models", nargs="*", default=None, help="default: every registered model")
    parser.add_argument("--shapes", nargs="+", default=["28", "64", "128", "32^3"], choices=list(SHAPES))
    parser.add_argument("--variants", nargs="+", default=["fp32", "bf16", "bf16-compile"], choices=list(VARIANTS))
    parser.add_argument("--compile-shapes", nargs="+", default=["128"], choices=list(SHAPES),
                        help="shapes the *-compile variants run at (compiling costs tens of seconds per model)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--steps", type=int, default=300, help="at most this many timed iterations per run")
    parser.add_argument("--seconds", type=float, default=4.0, help="timed seconds per run")
    parser.add_argument("--budget", type=float, default=540.0, help="start no new run after this many seconds")
    parser.add_argument("--peak-tflops", type=float, default=0.0, help="device peak for MFU (0: measure it)")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device here; run with --device cpu for a smoke test")
    from genzoo.registry import get_registry

    models = args.models or list(get_registry().names("model"))
    size = 8192 if device.type == "cuda" else 512
    peaks = {None: matmul_peak(device, torch.float32, size),
             torch.bfloat16: matmul_peak(device, torch.bfloat16, size)}
    if args.peak_tflops:
        peaks = {key: args.peak_tflops * 1e12 for key in peaks}
    label = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"{label}, torch {torch.__version__}, batch {args.batch}; matmul peak fp32 {peaks[None] / 1e12:.1f} TFLOP/s, "
          f"bf16 {peaks[torch.bfloat16] / 1e12:.1f} TFLOP/s, load {os.getloadavg()[0]:.1f}")
    print("| model | shape | variant | parameters | GFLOP/iteration | iterations | images/s | peak memory | MFU |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    began = time.perf_counter()
    for name in models:
        for shape in args.shapes:
            for variant in args.variants:
                if VARIANTS[variant][1] and shape not in args.compile_shapes:
                    continue
                if time.perf_counter() - began > args.budget:
                    print(f"budget of {args.budget:.0f} s spent: stopped before {name} {shape} {variant}")
                    return
                try:
                    r = run_one(name, SHAPES[shape], variant, args, device)
                except Exception as exc:  # report the row (out of memory, unsupported shape) and go on
                    print(f"| {name} | {shape} | {variant} | failed: {type(exc).__name__}: {str(exc).splitlines()[0][:80]} |||||| ")
                    if device.type == "cuda":
                        torch.cuda.empty_cache()
                    continue
                mfu = r["flops"] * r["iterations"] / r["seconds"] / peaks[VARIANTS[variant][0]]
                print(f"| {name} | {shape} | {variant} | {r['params']:,} | {r['flops'] / 1e9:.2f} | {r['iterations']} | "
                      f"{r['images_per_s']:,.0f} | {r['peak_mb']:,.0f} MB | {mfu:.1%} |", flush=True)
                if device.type == "cuda":
                    torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
