"""The model contract: what a generative model tells the shared trainer.

The model owns its losses; the trainer owns the loop. A model declares its *players*, named groups
of sub-modules that are optimised together, each with its own optimiser settings and number of
steps per iteration, and computes a dict of named loss terms for one player on one batch. The
trainer then does, for every player in order and ``player.steps`` times::

    batch = next(data)                      # a fresh real batch for every step
    model.zero_grad(set_to_none=True)       # grads of *all* players, so none leak across steps
    terms = model(player.name, batch)       # a fresh forward pass: no graph is reused
    terms["loss"].backward(); optimizer[player].step()

A GAN with a critic stepped five times per generator step declares
``[Player("critic", ("critic",), steps=5), Player("generator", ("generator",))]``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from genzoo.errors import GenzooError


@dataclass(frozen=True)
class Player:
    """A named parameter group with its optimiser.

    Attributes:
        name: shown in logs and loss names (``critic``, ``generator``).
        modules: attribute names of the sub-modules whose parameters this player updates.
        lr, betas, weight_decay: Adam(W) settings.
        steps: optimiser steps per training iteration (5 for a WGAN-GP critic).
    """

    name: str
    modules: tuple[str, ...]
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    steps: int = 1


class GenerativeModel(nn.Module):
    """Base class of every genzoo model.

    Subclasses set ``capabilities`` and implement :meth:`players`, :meth:`loss` and
    :meth:`generate`; models with an encoder add ``"encoder"`` to ``capabilities`` and implement
    :meth:`encode`, :meth:`decode` and, for likelihood metrics, :meth:`decoder_log_prob`.

    Images are float tensors in [-1, 1] of shape ``(B, *data_shape)``, where ``data_shape`` is
    ``(C, H, W)`` for images or ``(C, D, H, W)`` for volumes.
    """

    capabilities: ClassVar[frozenset[str]] = frozenset()
    #: state-dict prefixes that checkpoints written before that state existed may lack; on loading
    #: such a file the state keeps its initial value (see genzoo.checkpoint.load_weights)
    optional_state: ClassVar[tuple[str, ...]] = ()
    #: the part of ``optional_state`` that :meth:`fit_prior` rewrites (``genzoo fit-prior`` reads a file
    #: without it); ``None``: all of it
    refitted_state: ClassVar[tuple[str, ...] | None] = None

    def __init__(self, config: Any, data_shape: Sequence[int]) -> None:
        super().__init__()
        self.config = config
        self.data_shape = tuple(int(d) for d in data_shape)

    # --- training -------------------------------------------------------------------------
    def players(self) -> list[Player]:
        """The players in the order the trainer steps them."""
        raise GenzooError(f"{type(self).__name__} does not declare players()")

    def loss(self, player: str, batch: Tensor) -> dict[str, Tensor]:
        """Named loss terms for ``player`` on a real ``batch``; ``"loss"`` is the one optimised."""
        raise GenzooError(f"{type(self).__name__} does not implement loss()")

    def forward(self, player: str, batch: Tensor) -> dict[str, Tensor]:
        # The trainer calls the model (not .loss), so forward hooks and wrappers see every step.
        return self.loss(player, batch)

    # --- sampling ---------------------------------------------------------------------------
    @property
    def latent_shape(self) -> tuple[int, ...]:
        """Shape of one prior noise sample, ``(latent_dim,)`` by default.

        The default reads ``config.latent_dim``; a model whose config names it otherwise (or whose
        noise is not a vector) overrides this property.
        """
        size = getattr(self.config, "latent_dim", None)
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            found = "has no latent_dim field" if size is None else f"has latent_dim={size!r}"
            # Not an AttributeError: nn.Module.__getattr__ would replace it with a misleading one.
            raise GenzooError(
                f"{type(self).__name__}: its config {found}; give the config an integer latent_dim >= 1 "
                "or override the latent_shape property to return the noise shape, e.g. (self.config.z_dim,)"
            )
        return (size,)

    def sample_noise(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Prior noise for ``n`` samples (standard normal by default), on the model's device."""
        device = next(self.parameters()).device
        noise = torch.randn((n, *self.latent_shape), generator=generator, device=generator.device if generator else None)
        return noise.to(device)

    def generate(self, noise: Tensor) -> Tensor:
        """Images in [-1, 1] from prior noise."""
        raise GenzooError(f"{type(self).__name__} does not implement generate()")

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return self.generate(self.sample_noise(n, generator))

    # --- a prior fitted after training (optional) -------------------------------------------
    @property
    def prior_fit_images(self) -> int:
        """How many training images :meth:`fit_prior` wants at each checkpoint (0: it fits nothing)."""
        return 0

    def fit_prior(self, batches: Iterable[Tensor]) -> None:
        """Fit the distribution ``generate`` draws codes from to the training images in ``batches``.

        The trainer calls it before every checkpoint (and sample grid) with the weights it publishes
        in place, in eval mode, under ``torch.no_grad``; whatever state the fit changes is kept in the
        live weights and the weight average alike. Draw any noise from a seeded generator, never the
        global RNG, so resumed runs stay exact. Default: nothing (the prior is fixed).
        """

    def prior_log_prob(self, z: Tensor) -> Tensor:
        """log p(z) per code, shape ``(B,)``, of the prior samples are drawn from: N(0, I) by default."""
        return (-0.5 * (math.log(2 * math.pi) + z.flatten(1) ** 2)).sum(1)

    @property
    def prior_is_standard_normal(self) -> bool:
        """Whether :meth:`prior_log_prob` is N(0, I), so KL(q(z|x) || p(z)) has its closed form."""
        return True

    # --- inference (models with an encoder) -------------------------------------------------
    @property
    def has_encoder(self) -> bool:
        return "encoder" in self.capabilities

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Posterior parameters ``(mu, logvar)`` of q(z|x), each of shape ``(B, *latent_shape)``."""
        raise GenzooError(f"model {type(self).__name__} has no encoder")

    def decode(self, z: Tensor) -> Tensor:
        """Decoder mean in [-1, 1] for latent codes ``z``."""
        return self.generate(z)

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        mu, _ = self.encode(x)
        return self.decode(mu)

    def decoder_log_prob(self, x: Tensor, z: Tensor) -> Tensor:
        """log p(x|z) per sample, shape ``(B,)``, under the model's observation model."""
        raise GenzooError(f"model {type(self).__name__} defines no decoder likelihood")
