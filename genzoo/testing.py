"""Contract checks a plugin's tests can call: the same ones genzoo runs on its own plugins.

A third-party model plugin's test can be one line per shape::

    from genzoo.testing import check_model_contract

    def test_my_model():
        check_model_contract("my-model", (1, 28, 28), config={"width": 4})

Each ``check_*`` function raises ``AssertionError`` with a message that says what broke, and
returns something useful (the model, the logged losses) so tests can assert more. They run on the
CPU, seed torch's global RNG (``torch.manual_seed``) for repeatability, and go through the
registry exactly like ``genzoo run`` and the trainer's :func:`genzoo.steps.run_iteration`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genzoo.errors import GenzooError
from genzoo.model import GenerativeModel
from genzoo.registry import get_registry
from genzoo.steps import build_optimizers, check_players, player_parameters, run_iteration


def random_batch(data_shape: Sequence[int], batch_size: int = 4, seed: int = 0) -> Tensor:
    """A batch of data-like values in [-1, 1] of shape ``(batch_size, *data_shape)``."""
    generator = torch.Generator().manual_seed(seed)
    return torch.rand((batch_size, *data_shape), generator=generator) * 2 - 1


def check_builds(name: str, data_shape: Sequence[int], config: Any = None, seed: int = 0) -> GenerativeModel:
    """The registry builds model ``name`` for ``data_shape`` as a :class:`GenerativeModel`."""
    torch.manual_seed(seed)
    model = get_registry().build_model(name, config, tuple(data_shape))
    assert isinstance(model, GenerativeModel), (
        f"{name}: the factory returned {type(model).__name__}, not a GenerativeModel"
    )
    assert model.data_shape == tuple(data_shape), f"{name}: data_shape {model.data_shape} != {tuple(data_shape)}"
    check_players(model)
    return model


def check_training_step(
    model: GenerativeModel, batch_size: int = 4, seed: int = 0, require_all: bool = True
) -> dict[str, Tensor]:
    """One :func:`run_iteration` gives finite losses and changes every player's parameters.

    With ``require_all`` every parameter tensor a player owns must change (a tensor that does
    not is usually a dead branch); otherwise at least one per player.
    """
    model.train()
    players = check_players(model)
    optimizers = build_optimizers(model)
    before = {p.name: [t.detach().clone() for t in player_parameters(model, p)] for p in players}
    count = sum(p.steps for p in players)
    batches = iter([random_batch(model.data_shape, batch_size, seed + i) for i in range(count)])
    logged = run_iteration(model, players, optimizers, batches)
    for key, value in logged.items():
        assert torch.isfinite(value).all(), f"{type(model).__name__}: loss term {key} is not finite ({value})"
    for player in players:
        assert f"{player.name}/loss" in logged, f"player {player.name!r} logged no 'loss' term"
        named = [
            f"{module}.{n}" for module in player.modules
            for n, p in getattr(model, module).named_parameters() if p.requires_grad
        ]
        after = player_parameters(model, player)
        unchanged = [n for n, old, new in zip(named, before[player.name], after) if torch.equal(old, new)]
        if require_all:
            assert not unchanged, f"player {player.name!r}: one training step left {unchanged[:5]} unchanged"
        else:
            assert len(unchanged) < len(after), f"player {player.name!r}: one training step changed no parameter"
    return logged


def check_sampling(model: GenerativeModel, n: int = 3) -> Tensor:
    """Samples have shape ``(n, *data_shape)``, are finite and lie in [-1, 1]."""
    model.eval()
    samples = model.sample(n)
    assert tuple(samples.shape) == (n, *model.data_shape), f"sample shape {tuple(samples.shape)}"
    assert torch.isfinite(samples).all(), "samples are not finite"
    assert samples.min() >= -1 and samples.max() <= 1, f"samples leave [-1, 1]: [{samples.min()}, {samples.max()}]"
    return samples


def check_inference(
    model: GenerativeModel, batch_size: int = 3, seed: int = 0, require_likelihood: bool = False
) -> None:
    """Models with an encoder: ``encode`` gives (mu, logvar) of the latent shape, ``reconstruct``
    gives data-shaped values in [-1, 1] and ``decoder_log_prob`` (optional unless
    ``require_likelihood``) one finite number per sample."""
    if not model.has_encoder:
        return
    model.eval()
    x = random_batch(model.data_shape, batch_size, seed)
    with torch.no_grad():
        mu, logvar = model.encode(x)
        expected = (batch_size, *model.latent_shape)
        assert tuple(mu.shape) == expected and tuple(logvar.shape) == expected, (
            f"encode gave {tuple(mu.shape)} and {tuple(logvar.shape)}, expected {expected}"
        )
        assert torch.isfinite(mu).all() and torch.isfinite(logvar).all(), "encode is not finite"
        rec = model.reconstruct(x)
        assert rec.shape == x.shape, f"reconstruct gave {tuple(rec.shape)}, expected {tuple(x.shape)}"
        assert rec.min() >= -1 and rec.max() <= 1, "reconstructions leave [-1, 1]"
        try:
            log_prob = model.decoder_log_prob(x, mu)
        except GenzooError:
            if require_likelihood:
                raise
            return
        assert tuple(log_prob.shape) == (batch_size,), f"decoder_log_prob gave shape {tuple(log_prob.shape)}"
        assert torch.isfinite(log_prob).all(), "decoder_log_prob is not finite"


def check_safetensors_roundtrip(name: str, model: GenerativeModel, config: Any = None) -> None:
    """``state_dict`` -> ``safetensors.torch.save_file`` -> a fresh model from the registry
    reproduces samples (and encodings) exactly."""
    from safetensors.torch import load_file, save_file

    model.eval()
    state = {key: value.detach().contiguous() for key, value in model.state_dict().items()}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.safetensors"
        save_file(state, str(path))
        torch.manual_seed(12345)  # a different initialisation than ``model`` had
        fresh = get_registry().build_model(name, config if config is not None else model.config, model.data_shape)
        fresh.load_state_dict(load_file(str(path)), strict=True)
    fresh.eval()
    noise = model.sample_noise(3, torch.Generator().manual_seed(7))
    with torch.no_grad():
        assert torch.equal(model.generate(noise), fresh.generate(noise)), "reloaded model generates different samples"
        if model.has_encoder:
            x = random_batch(model.data_shape, 3, seed=3)
            for a, b in zip(model.encode(x), fresh.encode(x)):
                assert torch.equal(a, b), "reloaded model encodes differently"


def check_model_contract(
    name: str, data_shape: Sequence[int], config: Any = None, *, batch_size: int = 4, strict: bool = False
) -> GenerativeModel:
    """Every check above for model ``name`` at ``data_shape``; returns the trained model.

    ``strict=True`` (genzoo's own models pass it) also demands that every parameter tensor
    changes in one step, which finds dead weights such as a critic's output bias under a
    Wasserstein loss (its gradient is exactly zero), and that encoder models define
    ``decoder_log_prob``.
    """
    model = check_builds(name, data_shape, config)
    check_training_step(model, batch_size, require_all=strict)
    check_sampling(model)
    check_inference(model, require_likelihood=strict)
    check_safetensors_roundtrip(name, model, config)
    return model


def check_loss_contract(name: str, config: Any = None, data_shape: Sequence[int] = (1, 8, 8)) -> Any:
    """A loss plugin builds and follows its role's interface (see ``genzoo_losses.plugin``):
    finite scalar losses that back-propagate."""
    registry = get_registry()
    spec = registry.get("loss", name)
    loss = registry.build_loss(name, config)
    role = getattr(spec, "role", "other")
    torch.manual_seed(0)
    x = random_batch(data_shape, 4)
    if role in ("adversarial", "code"):
        shape = data_shape if role == "adversarial" else (data_shape[-1],)
        critic = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(int(torch.tensor(shape).prod()), 1))
        real, fake = random_batch(shape, 4, 1), random_batch(shape, 4, 2).requires_grad_(True)
        method = loss.discriminator_loss
        terms = method(critic, real, fake)
        assert "loss" in terms and terms["loss"].dim() == 0, f"{name}: discriminator_loss must return a scalar 'loss'"
        terms["loss"].backward()
        assert all(p.grad is not None for p in critic.parameters()), f"{name}: no gradient reached the critic"
        second = loss.generator_loss if role == "adversarial" else loss.encoder_loss
        value = second(critic(fake))
    elif role == "reconstruction":
        pre = torch.zeros_like(x).requires_grad_(True)
        value = loss(pre, x)
        assert tuple(loss.log_prob(pre, x).shape) == (4,), f"{name}: log_prob must give one value per sample"
    elif role == "divergence":
        mu = torch.randn(4, 5).requires_grad_(True)
        value = loss(mu, torch.zeros(4, 5))
    else:
        return loss
    assert value.dim() == 0 and torch.isfinite(value), f"{name}: expected a finite scalar, got {value}"
    value.backward()
    return loss


__all__ = [
    "check_builds",
    "check_inference",
    "check_loss_contract",
    "check_model_contract",
    "check_safetensors_roundtrip",
    "check_sampling",
    "check_training_step",
    "random_batch",
]
