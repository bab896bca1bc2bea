"""Time-to-quality: wall time until the recognisable share of samples first reaches a finish line,
genzoo's defaults against the peer trainers of `benchmarks/peers.py` (pythae's VAE, torchgan's WGAN-GP)
on the same networks and the same 4,480 mnist5k training digits (70 batches of 64), batch 64.

Quality is the `class-coverage` metric: the share of 1,000 samples (seed 0) that the shipped LeNet
classifies with confidence >= 0.9. Every side is checked at the same fixed interval of iterations
(`--every`); the clock stops while a check is scored, so the time is training time only, everything
each trainer does by default included (genzoo: checkpoints, the sampling prior's fit and the weight
average; torchgan: its end-of-epoch checkpoint and grid). A side that does not reach the line by
`--cap` iterations (or, for a peer, by `--patience` times genzoo's time) is reported as not reached.

genzoo samples what `genzoo run` publishes (the averaged weights, the fitted prior of the encoder
models); pythae samples its VAE from N(0, I) as its `VAE` does, at its documented default lr (1e-4)
and at genzoo's (`--pythae-lrs`); torchgan samples its generator.

    OMP_NUM_THREADS=2 python benchmarks/time_to_quality.py vae --line 0.75 --every 140 --cap 3000
    OMP_NUM_THREADS=2 python benchmarks/time_to_quality.py wgan-gp --line 0.5 --every 210 --cap 2500

Prints one line per check and, per side, the time and iterations to the line and peer / genzoo.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from genzoo import api
from genzoo.evaluation import EvalContext, evaluate
from genzoo.registry import get_registry
from genzoo.runconfig import RunConfig, TrainConfig
from genzoo.trainer import Trainer
from peers import pythae_trainer, torchgan_trainer

BATCHES = 70  # 4,480 digits: whole batches, so a peer's epoch is a fixed number of iterations
SAMPLES = 1000


class _Samples:
    capabilities = frozenset()


def recognisable(samples: torch.Tensor, held_out: torch.Tensor) -> float:
    """The class-coverage headline of ``samples`` in [-1, 1] (the shipped mnist5k LeNet)."""
    context = EvalContext(_Samples(), held_out, generated=samples, dataset="mnist5k")
    (result,) = evaluate(context, ["class-coverage"])
    return float(result.values["class-coverage"])


class Clock:
    """Training time: wall time minus the time spent scoring checks."""

    def __init__(self) -> None:
        self.start = time.time()  # wall-clock seconds, comparable with file modification times
        self.paused = 0.0

    def now(self) -> float:
        return time.time() - self.start - self.paused

    def at(self, stamp: float) -> float:
        """Training time at wall-clock ``stamp``, for a stamp after the last pause ended."""
        return stamp - self.start - self.paused

    def pause(self, work: Callable[[], float]) -> float:
        began = time.time()
        try:
            return work()
        finally:
            self.paused += time.time() - began


class Reached(Exception):
    pass


def genzoo_side(model: str, line: float, every: int, cap: int, seed: int, held_out: torch.Tensor, log) -> tuple[float | None, int | None]:
    """genzoo's `Trainer.fit` with its defaults, a checkpoint every ``every`` iterations. At each
    logging step N the checkpoint of step N - every (already on disk) is scored; its time is the
    moment its file was complete."""
    outcome: dict[str, tuple[float, int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        config = RunConfig(model=model, dataset="mnist5k", train=TrainConfig(
            steps=cap, batch_size=64, seed=seed, log_every=every, checkpoint_every=every, sample_every=0,
            keep_last=2))
        trainer = Trainer(config, run, progress=False)
        overhead = _time_calls(trainer, ("refit_prior", "save_checkpoint"))
        clock = Clock()

        def check(step: int) -> None:
            folder = run / "checkpoints" / f"step-{step:08d}"
            # The checkpoint was written after the previous check's scoring, so no pause lies between.
            written = clock.at((folder / "model.safetensors").stat().st_mtime)
            share = clock.pause(lambda: recognisable(_genzoo_samples(folder), held_out))
            log(f"genzoo {model}: {step} iterations, {written:.1f} s ({overhead[0]:.1f} s of it checkpoints "
                f"and prior fits), recognisable {share:.3f}")
            if share >= line:
                outcome["hit"] = (written, step)
                raise Reached

        def on_log(record: dict) -> None:
            step = int(record["step"])
            if step > every and step % every == 0:  # the last step logs too, off the interval when every ∤ cap
                check(step - every)

        try:
            trainer.fit(on_log=on_log)
            for step in dict.fromkeys((cap - cap % every, cap)):  # the checkpoints no later log reached
                if step:
                    check(step)
        except Reached:
            pass
    return outcome.get("hit", (None, None))


def _time_calls(owner: object, names: tuple[str, ...]) -> list[float]:
    """Wrap ``owner``'s methods ``names`` so the one-element list returned sums their seconds."""
    spent = [0.0]
    for name in names:
        method = getattr(owner, name)

        def timed(*args, _method=method, **kwargs):
            began = time.time()
            try:
                return _method(*args, **kwargs)
            finally:
                spent[0] += time.time() - began

        setattr(owner, name, timed)
    return spent


def _genzoo_samples(folder: Path) -> torch.Tensor:
    return api.sample(api.load(folder / "model.safetensors"), SAMPLES, seed=0)  # what `genzoo sample` draws


def _prior_samples(module: torch.nn.Module, decode: Callable[[torch.Tensor], torch.Tensor], latent: int) -> torch.Tensor:
    """``SAMPLES`` decodes of N(0, I) codes (seed 0) in eval mode, the module left training."""
    module.eval()
    with torch.no_grad():
        samples = decode(torch.randn(SAMPLES, latent, generator=torch.Generator().manual_seed(0)))
    module.train()
    return samples


def peer_side(name: str, train_epoch: Callable[[], None], per_epoch: int, draw: Callable[[], torch.Tensor],
              overhead: list[float] | None, line: float, every: int, cap: int, limit: float, held_out, log,
              ) -> tuple[float | None, int]:  # fmt: skip
    """A peer trained one epoch at a time, checked every ``every`` iterations; (seconds or None, iterations)."""
    clock, done = Clock(), 0
    while done < cap:
        train_epoch()
        done += per_epoch
        if done % every == 0 or done >= cap:
            share = clock.pause(lambda: recognisable(draw(), held_out))
            spent = f" ({overhead[0]:.1f} s of it checkpoints)" if overhead is not None else ""
            log(f"{name}: {done} iterations, {clock.now():.1f} s{spent}, recognisable {share:.3f}")
            if share >= line:
                return clock.now(), done
            if clock.now() > limit:
                break
    return None, done


def pythae_side(lr: float, images, tmp: str, seed: int, **race) -> tuple[float | None, int]:
    trainer, model, ours = pythae_trainer(seed, lr, images, tmp)
    epochs = iter(range(1, 10**9))
    return peer_side(f"pythae lr {lr:g}", lambda: trainer.train_step(next(epochs)), BATCHES,
                     lambda: _prior_samples(model, lambda z: model.decoder(z).reconstruction * 2 - 1, ours.config.latent_dim),
                     None, **race)  # fmt: skip


def torchgan_side(images, tmp: str, seed: int, **race) -> tuple[float | None, int]:
    trainer, loader, ours = torchgan_trainer(seed, images, tmp)
    epoch = [0]

    def train_epoch() -> None:  # one more epoch on the same trainer
        trainer.start_epoch, trainer.epochs = epoch[0], epoch[0] + 1
        trainer(loader)
        epoch[0] += 1

    return peer_side("torchgan", train_epoch, BATCHES // ours.config.critic_steps,
                     lambda: _prior_samples(trainer.generator, trainer.generator, ours.config.latent_dim),
                     _time_calls(trainer, ("save_model",)), **race)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", choices=["vae", "wgan-gp"])
    parser.add_argument("--line", type=float, required=True, help="recognisable share that ends the race")
    parser.add_argument("--every", type=int, required=True, help="iterations between checks (a whole number of peer epochs)")
    parser.add_argument("--cap", type=int, required=True, help="iterations after which a side gives up")
    parser.add_argument("--patience", type=float, default=3.0, help="a peer gives up at this many times genzoo's time")
    parser.add_argument("--pythae-lrs", type=float, nargs="+", default=[1e-4, 1e-3])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    def log(text: str) -> None:
        print(text, flush=True)

    registry = get_registry()
    data = registry.build_dataset("mnist5k", None, "train", None).images.float()[: 64 * BATCHES]
    held_out = registry.build_dataset("mnist5k", None, "test", None).images.float()
    log(f"torch {torch.__version__}, {torch.get_num_threads()} threads, load {os.getloadavg()[0]:.1f}; "
        f"line {args.line}, check every {args.every} iterations, cap {args.cap}")
    ours_s, ours_it = genzoo_side(args.model, args.line, args.every, args.cap, args.seed, held_out, log)
    peers: dict[str, tuple[float | None, int | None]] = {}
    limit = args.patience * ours_s if ours_s is not None else float("inf")  # a peer stops at this many seconds
    race = {"line": args.line, "every": args.every, "cap": args.cap, "limit": limit, "held_out": held_out, "log": log}
    with tempfile.TemporaryDirectory() as tmp:
        if args.model == "vae":
            for lr in args.pythae_lrs:
                peers[f"pythae lr {lr:g}"] = pythae_side(lr, data, tmp, args.seed, **race)
        else:
            peers["torchgan"] = torchgan_side(data, tmp, args.seed, **race)
    what = f"genzoo {args.model}: " + (f"{ours_s:.1f} s, {ours_it} iterations" if ours_s is not None else "not reached")
    log(f"time to {args.line:.0%} recognisable, load {os.getloadavg()[0]:.1f}. {what}")
    for name, (seconds, iterations) in peers.items():
        if seconds is None:
            log(f"  {name}: not reached in {iterations} iterations (gave up at {args.cap} or {args.patience:g}x genzoo's time)")
        else:
            ratio = f", peer / genzoo {seconds / ours_s:.2f}" if ours_s else ""
            log(f"  {name}: {seconds:.1f} s, {iterations} iterations{ratio}")


if __name__ == "__main__":
    main()
