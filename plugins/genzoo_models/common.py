"""Shared pieces of the first-party models: loss lookup by role, the latent-variable base class."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import Tensor

from genzoo.errors import ConfigError, GenzooError, PluginError
from genzoo.model import GenerativeModel
from genzoo.specs import missing_loss_methods
from genzoo_models.sampling_prior import MixturePrior, encoded_codes
from genzoo_models.nets import GaussianEncoder, NetPlan, build_encoder, build_generator, discriminator_plan, plan


def build_loss(
    role: str, name: str, options: dict[str, Any] | None, field: str, default_options: dict[str, Any] | None = None
) -> Any:
    """Build loss plugin ``name`` through the registry and check it plays ``role``.

    ``field`` is the config key the user sets (``loss.adversarial``), named in errors.
    ``default_options`` are the model's defaults for that loss's options: an entry still at its
    default that the chosen loss does not take is dropped (vae-gan's Gaussian ``sigma`` when the
    user picks ``l1``), because config fields merge over their defaults key by key and so could
    never be cleared; an option the user set that the loss does not take stays an error.
    """
    from genzoo.registry import get_registry

    registry = get_registry()
    spec = registry.get("loss", name)
    spec_role = getattr(spec, "role", "other")
    if spec_role != role:
        choices = ", ".join(n for n in registry.names("loss") if getattr(registry.get("loss", n), "role", "") == role)
        raise ConfigError(f"{field}={name!r} is a {spec_role} loss; choose one of the {role} losses: {choices}")
    options = dict(options or {})
    if default_options:
        takes = _option_names(spec)
        options = {k: v for k, v in options.items()
                   if k in takes or k not in default_options or v != default_options[k]}  # fmt: skip
    loss = registry.build_loss(name, options)
    missing = missing_loss_methods(loss, role)
    if missing:
        raise PluginError(f"loss '{name}' is declared a {role} loss but does not define {missing}")
    return loss


def _option_names(spec: Any) -> set[str]:
    """The option names loss ``spec``'s config takes (none for a loss without a config)."""
    try:
        cls = spec.config_class()  # the class, not an instance: its fields may be required
    except Exception:  # noqa: BLE001 - building the loss next reports the broken config in one line
        return set()
    return {f.name for f in dataclasses.fields(cls)} if cls is not None and dataclasses.is_dataclass(cls) else set()


def check_player(model: GenerativeModel, player: str, *expected: str) -> None:
    """Raise a clear error when the trainer asks for a player the model does not declare."""
    if player not in expected:
        names = ", ".join(p.name for p in model.players())
        raise GenzooError(f"{type(model).__name__} has no player {player!r} (players: {names})")


class LatentModel(GenerativeModel):
    """A model with a generator G: z ~ N(0, I) -> x in [-1, 1], built for ``data_shape``.

    Subclasses call :meth:`_build_generator` (and :meth:`_build_gaussian_encoder` /
    :meth:`_build_critic`) in ``__init__``. For likelihood metrics the observation model is
    ``self.observation`` (a reconstruction loss plugin; Bernoulli on (x+1)/2 unless a subclass
    sets another one).
    """

    # checkpoints from before the fitted sampling prior load with N(0, I) sampling
    optional_state = ("sampling_prior.",)

    def __init__(self, config: Any, data_shape: Sequence[int]) -> None:
        super().__init__(config, data_shape)
        if config.latent_dim < 1:
            raise ConfigError(f"latent_dim must be >= 1, got {config.latent_dim}")
        self.plan: NetPlan = plan(self.data_shape, config.net.architecture)
        self.observation: Any = None
        prior = getattr(config, "sampling_prior", None)
        if prior is not None and prior.kind == "mixture":
            self.sampling_prior = MixturePrior(config.latent_dim, prior)

    # --- construction helpers --------------------------------------------------------------
    def _loss(self, role: str) -> Any:
        """Build the loss plugin ``config.loss.<role>`` with ``config.loss.<role>_options``."""
        losses = self.config.loss
        key = f"{role}_options"
        field = {f.name: f for f in dataclasses.fields(losses)}.get(key)
        factory = getattr(field, "default_factory", dataclasses.MISSING)
        defaults = factory() if factory is not dataclasses.MISSING else None
        return build_loss(role, getattr(losses, role), getattr(losses, key), f"loss.{role}", defaults)

    def _build_generator(self) -> None:
        self.generator = build_generator(self.plan, self.config.net, self.config.latent_dim)

    def _build_gaussian_encoder(self) -> None:
        self.encoder = GaussianEncoder(self.plan, self.config.net, self.config.latent_dim)

    def _build_critic(self, adversarial: Any, attribute: str = "critic") -> None:
        """An image critic/discriminator with one score per sample; refuses batch norm under a GP."""
        net = self.config.net
        if net.discriminator_norm == "batch" and getattr(adversarial, "uses_gradient_penalty", False):
            raise ConfigError(
                "batch norm in a critic breaks the per-sample gradient penalty: "
                "set net.discriminator_norm=none (or layer)"
            )
        head_bias = not getattr(adversarial, "shift_invariant", False)
        critic = build_encoder(
            discriminator_plan(self.plan, net), net, net.discriminator_width, 1, net.discriminator_norm, head_bias
        )
        setattr(self, attribute, critic)

    def _set_observation(self, name: str = "bernoulli", options: dict[str, Any] | None = None) -> None:
        self.observation = build_loss("reconstruction", name, options, "observation")

    # --- sampling ------------------------------------------------------------------------------
    def prior(self, n: int, like: Tensor) -> Tensor:
        """``n`` codes z ~ N(0, I) on the device and dtype of ``like``."""
        return torch.randn((n, self.config.latent_dim), device=like.device, dtype=like.dtype)

    def generate(self, noise: Tensor) -> Tensor:
        """G(z), z the sampling prior's code for the noise (N(0, I) itself until a mixture is fitted)."""
        prior = getattr(self, "sampling_prior", None)
        return self.generator(noise if prior is None else prior.transform(noise))

    # --- the fitted sampling prior (genzoo_models.sampling_prior) -------------------------------
    @property
    def prior_fit_images(self) -> int:
        return self.sampling_prior.config.images if hasattr(self, "sampling_prior") else 0

    def fit_prior(self, batches: Iterable[Tensor]) -> None:
        if hasattr(self, "sampling_prior"):
            self.sampling_prior.fit(self.prior_codes(batches), warm_start=self.prior_warm_start)

    #: refit the mixture from its previous fit, so its components keep their identity (a model whose
    #: training keys on them); otherwise every fit starts afresh from k-means++
    prior_warm_start = False

    def prior_codes(self, batches: Iterable[Tensor]) -> Tensor:
        """The codes of ``batches`` the sampling prior is fitted to: ``draws`` encoder samples per image."""
        return encoded_codes(self.encode, batches, draws=self.sampling_prior.config.draws)

    def prior_log_prob(self, z: Tensor) -> Tensor:
        prior = getattr(self, "sampling_prior", None)
        return super().prior_log_prob(z) if prior is None else prior.log_prob(z)

    @property
    def prior_is_standard_normal(self) -> bool:
        return not (hasattr(self, "sampling_prior") and self.sampling_prior.is_fitted)

    def decode(self, z: Tensor) -> Tensor:
        return self.generator(z)

    # --- inference -----------------------------------------------------------------------------
    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if not hasattr(self, "encoder"):
            return super().encode(x)
        return self.encoder(x)

    @staticmethod
    def reparameterize(mu: Tensor, logvar: Tensor) -> Tensor:
        """z = mu + sigma * eps, eps ~ N(0, I) (Kingma & Welling 2014, sec. 2.4)."""
        return mu + (0.5 * logvar).exp() * torch.randn_like(mu)

    def decoder_log_prob(self, x: Tensor, z: Tensor) -> Tensor:
        """log p(x|z) per sample under ``self.observation`` applied to the decoder's output."""
        if self.observation is None:
            return super().decoder_log_prob(x, z)
        return self.observation.log_prob(self.generator.pre_tanh(z), x)
