"""genzoo against peer trainers on the same networks and digits: pythae (VAE) and torchgan (WGAN-GP).

Each peer trains genzoo's own networks (built through the registry with the default configs and
wrapped in the peer's base classes, so the parameter counts are equal; checked) on the same 4,500
mnist5k training digits, batch 64, with its documented trainer; genzoo runs `Trainer.fit` (as in
`benchmarks/trainer_overhead.py`). Rounds alternate in one process. An iteration is one optimiser
step of every player (VAE: one step; WGAN-GP: genzoo's `critic_steps` critic steps (2 by default)
and 1 generator step; torchgan's ``ncritic``, batches per generator step, is set to the same).

Needs ``pip install pythae torchgan`` (both install beside torch 2.14.1; the run that produced
BENCHMARKS.md used a venv with ``--system-site-packages``).

    OMP_NUM_THREADS=2 python benchmarks/peers.py [--rounds 3] [--iterations 20]

Prints peer / genzoo seconds per iteration (median over rounds, with the per-round range).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from typing import Any

import torch

from genzoo.registry import get_registry
from trainer_overhead import genzoo_seconds


def digits() -> torch.Tensor:
    return get_registry().build_dataset("mnist5k", None, "train", None).images.float()


def pythae_trainer(seed: int, lr: float | None, images: torch.Tensor, out: str) -> tuple[Any, Any, Any]:
    """pythae's BaseTrainer on genzoo's VAE encoder and decoder (pythae's "bce" loss, Bernoulli like
    genzoo's), ready to ``train_step``, at ``lr`` (``None``: genzoo's); returns (trainer, pythae model, genzoo model)."""
    from pythae.data.datasets import BaseDataset  # the trainer indexes batches as {"data": ...}
    from pythae.models import VAE, VAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder
    from pythae.trainers import BaseTrainer, BaseTrainerConfig

    torch.manual_seed(seed)
    ours = get_registry().build_model("vae", None, (1, 28, 28))

    class Encoder(BaseEncoder):
        def __init__(self) -> None:
            super().__init__()
            self.net = ours.encoder

        def forward(self, x: torch.Tensor) -> ModelOutput:  # pythae feeds [0, 1]; genzoo's nets take [-1, 1]
            mu, logvar = self.net(x * 2 - 1)
            return ModelOutput(embedding=mu, log_covariance=logvar)

    class Decoder(BaseDecoder):
        def __init__(self) -> None:
            super().__init__()
            self.net = ours.generator

        def forward(self, z: torch.Tensor) -> ModelOutput:  # Bernoulli means for pythae's "bce" loss
            return ModelOutput(reconstruction=torch.sigmoid(self.net.pre_tanh(z)))

    config = VAEConfig(input_dim=(1, 28, 28), latent_dim=ours.config.latent_dim, reconstruction_loss="bce")
    model = VAE(config, encoder=Encoder(), decoder=Decoder())
    data = BaseDataset((images + 1) / 2, torch.zeros(len(images)))
    trainer = BaseTrainer(model, data, training_config=BaseTrainerConfig(
        output_dir=out, per_device_train_batch_size=64, num_epochs=1, learning_rate=ours.config.lr if lr is None else lr,
        no_cuda=True, seed=seed))
    trainer.prepare_training()
    return trainer, model, ours


def pythae_seconds(iterations: int, seed: int) -> tuple[float, int, int]:
    """pythae's BaseTrainer on genzoo's VAE encoder and decoder; s/iteration and both parameter counts."""
    with tempfile.TemporaryDirectory() as tmp:
        trainer, model, ours = pythae_trainer(seed, None, digits()[: 64 * (iterations + 1)], tmp)
        start = time.perf_counter()
        trainer.train_step(1)
        seconds = (time.perf_counter() - start) / (iterations + 1)
    return seconds, sum(p.numel() for p in model.parameters()), sum(p.numel() for p in ours.parameters())


def _shim_make_grid() -> None:
    """torchgan 0.1.0's end-of-epoch grid still passes make_grid's `range`, which torchvision renamed
    `value_range`; translate it so an epoch can finish (the grid is drawn once, outside the steps)."""
    import torchvision.utils

    make_grid = torchvision.utils.make_grid
    if not getattr(make_grid, "_peers_shim", False):
        def shimmed(*args, range=None, **kwargs):  # noqa: A002 - torchgan's keyword
            return make_grid(*args, value_range=range, **kwargs)
        shimmed._peers_shim = True
        torchvision.utils.make_grid = shimmed


def torchgan_trainer(seed: int, images: torch.Tensor, out: str) -> tuple[Any, Any, Any]:
    """torchgan's Trainer (WGAN-GP losses, ``ncritic`` = genzoo's critic steps, genzoo's Adam settings:
    torchgan documents no WGAN-GP default) on genzoo's generator and critic; (trainer, loader, genzoo model)."""
    from torch.utils.data import DataLoader, TensorDataset
    from torchgan.losses import WassersteinDiscriminatorLoss, WassersteinGeneratorLoss, WassersteinGradientPenalty
    from torchgan.models import Discriminator, Generator
    from torchgan.trainer import Trainer

    _shim_make_grid()
    torch.manual_seed(seed)
    ours = get_registry().build_model("wgan-gp", None, (1, 28, 28))
    latent = ours.config.latent_dim

    class G(Generator):
        def __init__(self) -> None:
            super().__init__(latent, "none")
            self.net = ours.generator

        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return self.net(z)

    class D(Discriminator):
        def __init__(self) -> None:
            super().__init__(1, "none")
            self.net = ours.critic

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x).view(-1)

    def adam(lr: float) -> dict[str, Any]:
        return {"name": torch.optim.Adam, "args": {"lr": lr, "betas": tuple(ours.config.betas)}}

    network = {"generator": {"name": G, "args": {}, "optimizer": adam(ours.config.generator_lr)},
               "discriminator": {"name": D, "args": {}, "optimizer": adam(ours.config.critic_lr)}}
    losses = [WassersteinGeneratorLoss(), WassersteinDiscriminatorLoss(), WassersteinGradientPenalty(lambd=10.0)]
    loader = DataLoader(TensorDataset(images, torch.zeros(len(images))), batch_size=64)  # torchgan reads batch[1]
    trainer = Trainer(network, losses, ncritic=ours.config.critic_steps, epochs=1, sample_size=64,
                      device=torch.device("cpu"), checkpoints=os.path.join(out, "gan"),
                      recon=os.path.join(out, "images"), log_dir=out)
    return trainer, loader, ours


def torchgan_seconds(iterations: int, seed: int) -> tuple[float, int, int]:
    """torchgan's Trainer on genzoo's WGAN-GP generator and critic; s/iteration and both parameter counts."""
    with tempfile.TemporaryDirectory() as tmp:
        registry = get_registry()
        ncritic = registry.make_config(registry.get("model", "wgan-gp"), None).critic_steps
        trainer, loader, ours = torchgan_trainer(seed, digits()[: 64 * ncritic * (iterations + 1)], tmp)
        start = time.perf_counter()
        trainer(loader)
        seconds = (time.perf_counter() - start) / (iterations + 1)
        params = sum(p.numel() for p in trainer.generator.parameters()) + sum(p.numel() for p in trainer.discriminator.parameters())
    return seconds, params, sum(p.numel() for p in ours.parameters())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--peers", nargs="+", default=["pythae", "torchgan"], choices=["pythae", "torchgan"])
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch 64, load {os.getloadavg()[0]:.1f}")
    for peer in args.peers:
        model, measure = ("vae", pythae_seconds) if peer == "pythae" else ("wgan-gp", torchgan_seconds)
        theirs, ours = [], []
        for seed in range(args.rounds):
            seconds, peer_params, our_params = measure(args.iterations, seed)
            if peer_params != our_params:
                raise SystemExit(f"{peer}: {peer_params} parameters against genzoo's {our_params}; not the same networks")
            theirs.append(seconds)
            ours.append(genzoo_seconds(model, args.iterations, 64, seed))
        ratios = [t / o for t, o in zip(theirs, ours)]
        print(f"{peer} vs genzoo {model} ({peer_params:,} parameters each): peer {statistics.median(theirs):.4f} s/it, "
              f"genzoo {statistics.median(ours):.4f} s/it, peer/genzoo {statistics.median(ratios):.2f} "
              f"(rounds {min(ratios):.2f}-{max(ratios):.2f}), load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
