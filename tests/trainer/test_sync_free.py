"""The trainer's hot loop without host synchronisation: device-side NaN flag, frozen players,
gradient means over ranks of the stepping player only, one critic call on real and fake."""

from __future__ import annotations

import json
import os
import socket

import pytest
import torch
import torch.multiprocessing as mp
from torch import nn

from genzoo.distributed import DistInfo, mean_gradients
from genzoo.errors import TrainingDiverged
from genzoo.runconfig import RunConfig, TrainConfig
from genzoo.steps import FiniteWatch, StepOptions, build_optimizers, check_players, run_iteration
from genzoo.trainer import checkpoint_dirs, train
from genzoo_losses.adversarial import Hinge, WassersteinGP, score_real_and_fake


def test_nan_found_at_the_logging_step_names_its_own_step_and_keeps_the_checkpoint_before(tiny_registry, tmp_path):
    # NaN from the generator's 6th step (step 6); nothing is checked until the log at step 8.
    config = RunConfig(model="tiny-gan", dataset="tiny-blobs", model_config={"nan_after": 5},
                       train=TrainConfig(steps=12, batch_size=16, log_every=4, sample_every=0, checkpoint_every=4,
                                         keep_last=5, grid_size=4))
    with pytest.raises(TrainingDiverged, match=r"player 'generator' produced a non-finite loss at step 6;") as info:
        train(config, tmp_path / "run")
    assert "the last good checkpoint is" in str(info.value) and "step-00000004" in str(info.value)
    assert [p.name for p in checkpoint_dirs(tmp_path / "run")] == ["step-00000004"]
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [4]  # step 8's NaN means were never logged
    assert not (tmp_path / "run" / "model.safetensors").exists()


def test_watch_records_the_first_failure_without_raising(tiny_registry):
    model = tiny_registry.build_model("tiny-gan", {"nan_after": 1}, (1, 8, 8))
    players, optimizers = check_players(model), build_optimizers(model)
    watch = FiniteWatch(players)
    batch = torch.rand(16, 1, 8, 8) * 2 - 1
    for step in (1, 2, 3):
        run_iteration(model, players, optimizers, lambda: batch, step=step, options=StepOptions(watch=watch))
    assert watch.first_failure() == (2, "generator")
    with pytest.raises(TrainingDiverged, match="player 'generator' produced a non-finite loss at step 2$"):
        watch.check()


def test_without_a_watch_run_iteration_raises_at_once(tiny_registry):
    model = tiny_registry.build_model("tiny-gan", {"nan_after": 0}, (1, 8, 8))
    batch = torch.rand(16, 1, 8, 8) * 2 - 1
    with pytest.raises(TrainingDiverged, match="player 'generator' produced a non-finite loss at step 7"):
        run_iteration(model, check_players(model), build_optimizers(model), lambda: batch, step=7)


def test_other_players_are_frozen_during_a_step_and_trainable_after(tiny_registry):
    model = tiny_registry.build_model("tiny-gan", None, (1, 8, 8))
    players, optimizers = check_players(model), build_optimizers(model)
    seen: dict[str, bool] = {}
    original = model.loss

    def spy(player, batch):
        seen[player] = any(p.requires_grad for p in model.critic.parameters())
        return original(player, batch)

    model.loss = spy
    run_iteration(model, players, optimizers, lambda: torch.rand(16, 1, 8, 8) * 2 - 1)
    assert seen == {"critic": True, "generator": False}
    assert all(p.grad is None for p in model.critic.parameters())  # the generator step left none behind
    assert all(p.requires_grad for p in model.parameters())


class _Counting(nn.Module):
    def __init__(self, norm: bool) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), *( [nn.BatchNorm1d(8)] if norm else []), nn.ReLU(), nn.Linear(8, 1))
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return self.net(x)


@pytest.mark.parametrize("loss", [WassersteinGP(), Hinge()])
def test_a_critic_without_batch_norm_scores_real_and_fake_in_one_call(loss):
    torch.manual_seed(0)
    critic = _Counting(norm=False)
    real, fake = torch.randn(6, 1, 4, 4), torch.randn(12, 1, 4, 4)
    merged = score_real_and_fake(critic, real, fake)
    assert critic.calls == 1
    torch.testing.assert_close(merged[0], critic(real).flatten())
    torch.testing.assert_close(merged[1], critic(fake).flatten())
    critic.calls = 0
    terms = loss.discriminator_loss(critic, real, fake)
    assert critic.calls == (2 if loss.uses_gradient_penalty else 1)  # the penalty's call stays separate
    expected = loss._discriminator_terms(critic(real).flatten(), critic(fake).flatten())
    if loss.uses_gradient_penalty:
        expected = expected + loss.config.gp_weight * terms["gradient_penalty"]
    torch.testing.assert_close(terms["loss"], expected)


def test_a_critic_with_batch_norm_scores_real_and_fake_apart():
    critic = _Counting(norm=True)
    score_real_and_fake(critic, torch.randn(6, 1, 4, 4), torch.randn(6, 1, 4, 4))
    assert critic.calls == 2


def test_mean_gradients_alone_is_a_no_op():
    param = nn.Parameter(torch.ones(3))
    param.grad = torch.full((3,), 2.0)
    mean_gradients([param], DistInfo())
    assert torch.equal(param.grad, torch.full((3,), 2.0))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _grad_worker(rank: int, world: int, port: int, out: str) -> None:
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        torch.manual_seed(0)
        net, unused, here_only = nn.Linear(5, 3), nn.Parameter(torch.ones(2)), nn.Parameter(torch.ones(2))
        data, target = torch.randn(8, 5), torch.randn(8, 3)
        # single process: the whole batch
        nn.functional.mse_loss(net(data), target).backward()
        full = [p.grad.clone() for p in net.parameters()]
        net.zero_grad(set_to_none=True)
        # this rank's half; `here_only` gets a gradient on rank 0 alone, `unused` on none
        half = slice(rank * 4, rank * 4 + 4)
        loss = nn.functional.mse_loss(net(data[half]), target[half])
        if rank == 0:
            loss = loss + here_only.sum()
        loss.backward()
        mean_gradients([*net.parameters(), unused, here_only], DistInfo(rank, rank, world))
        torch.save({"full": full, "reduced": [p.grad for p in net.parameters()],
                    "unused": unused.grad, "here_only": here_only.grad}, os.path.join(out, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_gradient_mean_over_two_gloo_ranks_equals_the_single_process_gradient(tmp_path):
    mp.spawn(_grad_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    for rank in (0, 1):
        result = torch.load(tmp_path / f"rank{rank}.pt")
        for full, reduced in zip(result["full"], result["reduced"]):
            torch.testing.assert_close(reduced, full, rtol=1e-5, atol=1e-6)
        assert result["unused"] is None  # no rank had a gradient: the optimiser skips it everywhere
        torch.testing.assert_close(result["here_only"], torch.full((2,), 0.5))  # (1 + 0) / 2


def test_the_resident_tensor_path_gives_the_loader_batches(tiny_registry):
    from genzoo.batches import BatchStream, resident_images
    from genzoo.data import TensorImageDataset

    dataset = tiny_registry.build_dataset("tiny-blobs", None, "train")
    assert resident_images(dataset, "cpu") is dataset.images

    class Decoding(TensorImageDataset):  # a subclass with its own batch fetch keeps the loader
        def __getitems__(self, indices):
            return super().__getitems__(indices)

    copy = Decoding(dataset.images, None, name="copy", normalisation={})
    assert resident_images(copy, "cpu") is None
    fast, loader = BatchStream(dataset, batch_size=16, seed=5), BatchStream(copy, batch_size=16, seed=5)
    for _ in range(9):  # crosses an epoch boundary
        assert torch.equal(next(fast), next(loader))
    fast.seek(0, 4)
    loader.seek(0, 4)
    assert torch.equal(next(fast), next(loader))


def test_persistent_workers_serve_every_epoch_from_one_loader(tiny_registry):
    from genzoo.batches import BatchStream

    dataset = tiny_registry.build_dataset("tiny-blobs", None, "train")
    plain = BatchStream(dataset, batch_size=16, seed=3)
    workers = BatchStream(dataset, batch_size=16, seed=3, num_workers=1)
    first = next(workers)
    loader = workers._loader
    assert torch.equal(first, next(plain))
    for _ in range(12):  # two more epochs
        assert torch.equal(next(workers), next(plain))
    assert workers._loader is loader and loader.persistent_workers
