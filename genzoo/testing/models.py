"""Contract checks for model plugins (see :mod:`genzoo.testing`)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genzoo import config as config_tools
from genzoo.errors import ConfigError, GenzooError
from genzoo.model import GenerativeModel
from genzoo.registry import get_registry
from genzoo.steps import build_optimizers, check_players, player_parameters, run_iteration
from genzoo.testing.batches import random_batch


def check_builds(name: str, data_shape: Sequence[int], config: Any = None, seed: int = 0) -> GenerativeModel:
    """The registry builds model ``name`` for ``data_shape`` as a :class:`GenerativeModel`."""
    torch.manual_seed(seed)
    model = get_registry().build_model(name, config, tuple(data_shape))
    assert isinstance(model, GenerativeModel), (
        f"{name}: the factory returned {type(model).__name__}, not a GenerativeModel"
    )
    assert model.data_shape == tuple(data_shape), f"{name}: data_shape {model.data_shape} != {tuple(data_shape)}"
    check_players(model)
    try:
        latent = model.latent_shape
    except GenzooError as exc:
        raise AssertionError(f"{name}: {exc}") from None
    assert isinstance(latent, tuple) and latent and all(isinstance(d, int) and d > 0 for d in latent), (
        f"{name}: latent_shape must be a tuple of positive ints, got {latent!r}"
    )
    return model


def check_config_roundtrip(kind: str, name: str, config: Any = None) -> Any:
    """The component's config survives what a checkpoint does to it: ``to_dict`` -> JSON text ->
    :func:`genzoo.config.build` gives an equal config, and every annotation is one genzoo supports."""
    registry = get_registry()
    spec = registry.get(kind, name)
    try:
        built = registry.make_config(spec, config)
    except GenzooError as exc:
        raise AssertionError(str(exc)) from None
    if built is None:
        return None
    try:
        config_tools.check_config_class(type(built))
        again = config_tools.build(type(built), json.loads(json.dumps(config_tools.to_dict(built))))
    except ConfigError as exc:
        raise AssertionError(f"{kind} '{name}': {exc}") from None
    assert again == built, f"{kind} '{name}': config {built!r} comes back from JSON as {again!r}"
    return built


def check_training_step(
    model: GenerativeModel, batch_size: int = 4, seed: int = 0, require_all: bool = True
) -> dict[str, Tensor]:
    """One :func:`run_iteration` gives finite losses and changes every player's parameters.

    With ``require_all`` every parameter tensor a player owns must change (a tensor that does
    not is usually a dead branch); otherwise at least one per player. Parameters that only train
    once the sampling prior is fitted (wgan-gp's cluster critic) are checked after a second
    iteration that follows a :meth:`~genzoo.model.GenerativeModel.fit_prior`, as a run fits it at
    its first checkpoint.
    """
    model.train()
    players = check_players(model)
    optimizers = build_optimizers(model)
    before = {p.name: [t.detach().clone() for t in player_parameters(model, p)] for p in players}
    count = sum(p.steps for p in players)
    batches = iter([random_batch(model.data_shape, batch_size, seed + i) for i in range(count)])
    logged = run_iteration(model, players, optimizers, batches)
    _check_finite_terms(model, logged)
    if require_all and model.prior_fit_images > 0 and model.prior_is_standard_normal:
        model.eval()
        with torch.no_grad():
            model.fit_prior([random_batch(model.data_shape, batch_size, seed + count + i) for i in range(2)])
        model.train()
        if not model.prior_is_standard_normal:  # the fit took: train once more on the fitted prior
            batches = iter([random_batch(model.data_shape, batch_size, seed + count + 2 + i) for i in range(count)])
            logged = run_iteration(model, players, optimizers, batches)
            _check_finite_terms(model, logged)
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


def _check_finite_terms(model: GenerativeModel, logged: dict[str, Tensor]) -> None:
    for key, value in logged.items():
        assert torch.isfinite(value).all(), f"{type(model).__name__}: loss term {key} is not finite ({value})"


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


def check_checkpoint_roundtrip(name: str, model: GenerativeModel, config: Any = None) -> GenerativeModel:
    """:func:`~genzoo.checkpoint.save_model` then :func:`~genzoo.checkpoint.load_model`, which rebuilds
    the model from the checkpoint's metadata alone (config as JSON, components by plugin), as
    ``genzoo sample``, ``eval`` and ``--resume`` do; the rebuilt model must reproduce samples (and
    encodings) exactly. Returns the reloaded model. ``config`` is accepted for compatibility and
    unused: the checkpoint records ``model.config``."""
    from genzoo.checkpoint import load_model, model_metadata, save_model

    del config
    registry = get_registry()
    entry = registry.resolve("model", name)
    model.eval()
    meta = model_metadata(model, entry, dataset="", dataset_config={}, data_shape=model.data_shape,
                          normalisation={}, step=0)
    with tempfile.TemporaryDirectory() as folder:
        path = save_model(Path(folder) / "model.safetensors", model, meta)
        torch.manual_seed(12345)  # a different initialisation than ``model`` had
        try:
            fresh, _ = load_model(path, registry=registry)
        except GenzooError as exc:
            raise AssertionError(f"{name}: its checkpoint cannot be loaded: {exc}") from None
    assert type(fresh) is type(model), f"{name}: the checkpoint rebuilt a {type(fresh).__name__}"
    assert fresh.config == model.config, f"{name}: config {model.config!r} came back as {fresh.config!r}"
    noise = model.sample_noise(3, torch.Generator().manual_seed(7))
    with torch.no_grad():
        assert torch.equal(model.generate(noise), fresh.generate(noise)), "reloaded model generates different samples"
        if model.has_encoder:
            x = random_batch(model.data_shape, 3, seed=3)
            for a, b in zip(model.encode(x), fresh.encode(x)):
                assert torch.equal(a, b), "reloaded model encodes differently"
    return fresh


check_safetensors_roundtrip = check_checkpoint_roundtrip  # the name genzoo 0.1 used


def check_model_contract(
    name: str, data_shape: Sequence[int], config: Any = None, *, batch_size: int = 4, strict: bool = False
) -> GenerativeModel:
    """Every model check for ``name`` at ``data_shape``: config round trip, build, one training
    iteration, sampling, inference and the checkpoint round trip; returns the trained model.

    ``strict=True`` (genzoo's own models pass it) also demands that every parameter tensor
    changes in one step, which finds dead weights such as a critic's output bias under a
    Wasserstein loss (its gradient is exactly zero), and that encoder models define
    ``decoder_log_prob``.
    """
    check_config_roundtrip("model", name, config)
    model = check_builds(name, data_shape, config)
    check_training_step(model, batch_size, require_all=strict)
    check_sampling(model)
    check_inference(model, require_likelihood=strict)
    check_checkpoint_roundtrip(name, model)
    return model
