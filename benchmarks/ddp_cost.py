"""What data-parallel training costs: DistributedDataParallel against genzoo's per-player all-reduce.

Two gloo processes on this CPU train the same model on their shards of mnist5k (batch 64 per
rank) with :func:`genzoo.steps.run_iteration`, alternating blocks of iterations in one run:

* ``ddp``: the former trainer, ``DistributedDataParallel(model, find_unused_parameters=True)``
  (every player step walks the graph, all-reduces every player's parameters, and broadcasts
  batch-norm buffers on every forward) and a barrier after every iteration;
* ``genzoo``: no wrapper; after each player step's backward the stepping player's gradients are
  averaged in one flat all-reduce (``genzoo.distributed.mean_gradients``), no barrier.

    OMP_NUM_THREADS=1 python benchmarks/ddp_cost.py [--models wgan-gp vae] [--rounds 3] [--steps 8]

Prints, per model, the median seconds per iteration of each side (rank 0's clock), the ratio
genzoo / ddp with the per-round range, and the floats all-reduced per iteration by each.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _worker(rank: int, world: int, port: int, args: argparse.Namespace, queue: mp.Queue) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    from torch.nn.parallel import DistributedDataParallel

    from genzoo.batches import BatchStream
    from genzoo.distributed import DistInfo, mean_gradients
    from genzoo.registry import get_registry
    from genzoo.steps import FiniteWatch, StepOptions, build_optimizers, check_players, run_iteration

    info = DistInfo(rank, rank, world)
    registry = get_registry()
    data = registry.build_dataset("mnist5k", None, "train", None)
    results = {}
    for name in args.models:
        # Two copies with the same initial weights: freezing a player's parameters (the genzoo
        # side) would detach the gradient hooks DDP registered on a shared copy.
        torch.manual_seed(0)
        model = registry.build_model(name, None, data.shape)
        torch.manual_seed(0)
        wrapped = registry.build_model(name, None, data.shape)
        players = check_players(model)
        optimizers, ddp_optimizers = build_optimizers(model), build_optimizers(wrapped)
        stream = BatchStream(data, args.batch_size, 0, rank, world)
        ddp = DistributedDataParallel(wrapped, find_unused_parameters=True)
        watch = FiniteWatch(players)
        sides = {
            "ddp": (ddp, ddp_optimizers, StepOptions(watch=watch), True),
            "genzoo": (model, optimizers, StepOptions(reduce_gradients=lambda p: mean_gradients(p, info), watch=watch), False),
        }
        times: dict[str, list[float]] = {side: [] for side in sides}
        for _ in range(args.rounds):
            for side, (net, opts, options, barrier) in sides.items():
                dist.barrier()
                per_iteration = []
                for step in range(args.steps + 1):
                    start = time.perf_counter()
                    run_iteration(net, players, opts, stream, step=step + 1, options=options)
                    if barrier:
                        dist.barrier()
                    per_iteration.append(time.perf_counter() - start)
                times[side].append(statistics.median(per_iteration[1:]))
        watch.check()
        total = sum(p.numel() for p in model.parameters() if p.requires_grad)
        shipped = sum(p.steps * sum(q.numel() for g in optimizers[p.name].param_groups for q in g["params"]) for p in players)
        steps = sum(p.steps for p in players)
        results[name] = (times, total * steps, shipped)
    if rank == 0:
        queue.put(results)
    dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["wgan-gp", "vae"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    queue = mp.get_context("spawn").SimpleQueue()
    mp.spawn(_worker, args=(2, _free_port(), args, queue), nprocs=2, join=True)
    results = queue.get()
    print(f"2 gloo ranks x 1 thread, torch {torch.__version__}, batch {args.batch_size} per rank, "
          f"{args.rounds} rounds x {args.steps} iterations, load {os.getloadavg()[0]:.1f}")
    print(f"{'model':10s} {'ddp s/it':>9s} {'genzoo s/it':>12s} {'ratio':>6s}  {'range':>12s}  floats all-reduced per it (ddp -> genzoo)")
    for name, (times, ddp_floats, ours_floats) in results.items():
        d, g = statistics.median(times["ddp"]), statistics.median(times["genzoo"])
        ratios = [b / a for a, b in zip(times["ddp"], times["genzoo"])]
        print(f"{name:10s} {d:9.4f} {g:12.4f} {g / d:6.3f}  {min(ratios):.3f}-{max(ratios):.3f}  "
              f"{ddp_floats:,} -> {ours_floats:,} ({ddp_floats / ours_floats:.1f}x less)")


if __name__ == "__main__":
    main()
