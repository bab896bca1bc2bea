"""Process-group set-up for ``torchrun``: NCCL on CUDA, gloo on CPU, helpers for rank 0 and reductions."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    local_rank: int = 0
    world: int = 1

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device_type: str) -> DistInfo:
    """Join the process group torchrun describes in the environment (or run alone)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        backend = "nccl" if device_type == "cuda" else "gloo"
        if device_type == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend=backend)
    return DistInfo(dist.get_rank(), int(os.environ.get("LOCAL_RANK", "0")), dist.get_world_size())


def shutdown_distributed(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def mean_across_ranks(values: dict[str, float], info: DistInfo, device: torch.device) -> dict[str, float]:
    """Average logged scalars over all ranks (every rank must pass the same keys)."""
    if not info.enabled or not values:
        return values
    keys = sorted(values)
    tensor = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return {k: float(v) / info.world for k, v in zip(keys, tensor.tolist())}


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def mean_gradients(params: list[torch.nn.Parameter], info: DistInfo) -> None:
    """Replace each parameter's gradient by its mean over the ranks, in one all-reduce.

    Called with the stepping player's parameters only, so a critic step ships the critic's
    gradients and nothing else (DDP with ``find_unused_parameters`` would walk the graph and
    reduce every player's parameters). A parameter without a gradient on every rank keeps none,
    so the optimiser skips it exactly as on one process; one that has a gradient on some ranks
    only is averaged with zeros from the others.
    """
    if not info.enabled or not params:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    missing = any(p.grad is None for p in params)
    present = torch.tensor([p.grad is not None for p in params], dtype=grads[0].dtype, device=grads[0].device)
    flat = torch.cat([g.reshape(-1) for g in grads] + [present])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    # Read the presence counts back (a host sync) only when this rank lacks a gradient.
    counts = flat[-len(params):].tolist() if missing else None
    flat = flat[: -len(params)] / info.world
    offset = 0
    for index, param in enumerate(params):
        size = param.numel()
        if counts is None or counts[index] > 0:
            param.grad = flat[offset : offset + size].view_as(param).to(param.dtype)
        offset += size


def broadcast_module(module: torch.nn.Module, info: DistInfo) -> None:
    """Give every rank rank 0's parameters and buffers (once, before training)."""
    if not info.enabled:
        return
    for tensor in list(module.parameters()) + list(module.buffers()):
        dist.broadcast(tensor.data, src=0)


def average_buffers(module: torch.nn.Module, info: DistInfo) -> None:
    """Average floating-point buffers (batch-norm running statistics) over the ranks.

    Each rank updates its running statistics from its own shard; averaging them before a
    checkpoint gives statistics of the whole batch, without DDP's per-forward broadcast.
    """
    average_tensors([b for b in module.buffers() if b.is_floating_point()], info)


def average_tensors(tensors: list[torch.Tensor], info: DistInfo) -> None:
    """Replace each of ``tensors`` by its mean over the ranks, in one all-reduce (every rank calls it)."""
    if not info.enabled or not tensors:
        return
    flat = torch.cat([t.reshape(-1).float() for t in tensors])
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    flat /= info.world
    offset = 0
    for tensor in tensors:
        tensor.copy_(flat[offset : offset + tensor.numel()].view_as(tensor))
        offset += tensor.numel()


def min_across_ranks(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """The minimum of a tensor over the ranks (every rank must call it)."""
    if not info.enabled:
        return value
    value = value.clone()
    dist.all_reduce(value, op=dist.ReduceOp.MIN)
    return value
