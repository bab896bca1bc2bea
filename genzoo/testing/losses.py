"""Contract checks for loss plugins: each role's interface, as CONTRIBUTING.md states it.

* adversarial: ``discriminator_loss(critic, real, fake) -> dict`` (``"loss"`` a scalar that
  reaches the critic but never ``fake``'s producer, other terms detached) and
  ``generator_loss(fake_scores) -> scalar`` (its gradient reaches ``fake``);
* code: the same with ``discriminator_loss(code_critic, prior_codes, encoded_codes)`` and
  ``encoder_loss(encoded_scores)``, on latent codes ``(B, Z)``;
* reconstruction: the object called, ``loss(pre_tanh, x)``, scalar; ``per_sample(pre_tanh, x)`` and
  ``log_prob(pre_tanh, x)`` of shape ``(B,)``; the gradient reaches ``pre_tanh``;
* divergence: called, ``loss(mu, logvar)``, scalar, and ``per_sample(mu, logvar)`` of shape ``(B,)``; the
  gradient reaches both, and it is 0 where the posterior equals the prior.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from genzoo.registry import get_registry
from genzoo.specs import missing_loss_methods
from genzoo.testing.batches import random_batch

ROLES = ("adversarial", "code", "reconstruction", "divergence")


def _scalar(name: str, what: str, value: Any) -> Tensor:
    assert isinstance(value, Tensor) and value.dim() == 0, f"{name}: {what} must return a scalar tensor, got {value!r:.60}"
    assert torch.isfinite(value), f"{name}: {what} is not finite ({value})"
    return value


def _per_sample(name: str, what: str, value: Any, batch: int) -> None:
    assert isinstance(value, Tensor) and tuple(value.shape) == (batch,), (
        f"{name}: {what} must give one value per sample, shape ({batch},), got {getattr(value, 'shape', value)}"
    )
    assert torch.isfinite(value).all(), f"{name}: {what} is not finite"


def _check_two_player(name: str, loss: Any, shape: Sequence[int], second: str, batch: int = 4) -> None:
    size = math.prod(shape)
    critic = nn.Sequential(nn.Flatten(), nn.Linear(size, 1))
    real = random_batch(shape, batch, 1)
    producer = torch.zeros(1, requires_grad=True)  # stands for the generator's parameters
    fake = random_batch(shape, batch, 2) + producer
    terms = loss.discriminator_loss(critic, real, fake)
    assert isinstance(terms, dict) and "loss" in terms, f"{name}: discriminator_loss must return a dict with 'loss'"
    _scalar(name, "discriminator_loss()['loss']", terms["loss"])
    for key, value in terms.items():
        assert isinstance(value, Tensor), f"{name}: discriminator_loss term {key!r} is not a tensor"
        if key != "loss":
            assert not value.requires_grad, f"{name}: logged term {key!r} must be detached"
    terms["loss"].backward()
    assert all(p.grad is not None for p in critic.parameters()), f"{name}: no gradient reached the critic"
    assert producer.grad is None, f"{name}: discriminator_loss must detach the fake samples"
    critic.zero_grad(set_to_none=True)
    fake = random_batch(shape, batch, 2).requires_grad_(True)
    value = _scalar(name, f"{second}()", getattr(loss, second)(critic(fake)))
    value.backward()
    assert fake.grad is not None and bool(fake.grad.abs().sum() > 0), f"{name}: {second} gives the fakes no gradient"


def _check_methods(name: str, loss: Any, role: str) -> None:
    """Every method of the role is there, with a message that says what to define."""
    missing = missing_loss_methods(loss, role)
    if missing:
        raise AssertionError(f"{name}: a {role} loss must define {missing} (CONTRIBUTING.md, the loss roles)")


def check_loss_contract(name: str, config: Any = None, data_shape: Sequence[int] = (1, 8, 8)) -> Any:
    """Loss ``name`` builds and follows its role's interface (module docstring); returns the loss.

    A loss of a role genzoo does not define (``role="other"``) is only built.
    """
    registry = get_registry()
    spec = registry.get("loss", name)
    loss = registry.build_loss(name, config)
    role = getattr(spec, "role", "other")
    if getattr(loss, "role", role) != role:
        raise AssertionError(f"{name}: the spec says role {role!r} but the loss object says {loss.role!r}")
    _check_methods(name, loss, role)
    torch.manual_seed(0)
    batch = 4
    if role == "adversarial":
        _check_two_player(name, loss, tuple(data_shape), "generator_loss", batch)
    elif role == "code":
        _check_two_player(name, loss, (5,), "encoder_loss", batch)
    elif role == "reconstruction":
        x = random_batch(data_shape, batch)
        pre = torch.zeros_like(x).requires_grad_(True)
        value = _scalar(name, "loss(pre_tanh, x)", loss(pre, x))
        _per_sample(name, "per_sample(pre_tanh, x)", loss.per_sample(pre, x), batch)
        _per_sample(name, "log_prob(pre_tanh, x)", loss.log_prob(pre, x), batch)
        value.backward()
        assert pre.grad is not None and bool(pre.grad.abs().sum() > 0), f"{name}: no gradient reached pre_tanh"
    elif role == "divergence":
        mu = torch.randn(batch, 5).requires_grad_(True)
        logvar = (0.1 * torch.randn(batch, 5)).requires_grad_(True)
        value = _scalar(name, "loss(mu, logvar)", loss(mu, logvar))
        _per_sample(name, "per_sample(mu, logvar)", loss.per_sample(mu, logvar), batch)
        value.backward()
        assert mu.grad is not None and logvar.grad is not None, f"{name}: no gradient reached mu and logvar"
        at_prior = loss(torch.zeros(batch, 5), torch.zeros(batch, 5))
        assert abs(float(at_prior)) < 1e-6, f"{name}: divergence of the prior from itself is {float(at_prior)}, not 0"
    return loss
