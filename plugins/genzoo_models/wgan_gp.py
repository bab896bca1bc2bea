"""``wgan-gp``: Gulrajani et al. (2017), Improved Training of Wasserstein GANs.

Critic D (no batch norm) and generator G, z ~ N(0, I) (the ``paper`` preset throughout; the default draws z from
the fitted mixture and scores with D(x | k) once the mixture is fitted: "The cluster critic" below):

    L_D = E_z[D(G(z))] - E_x[D(x)] + lambda * E_x^[(||grad D(x^)||_2 - 1)^2],
          x^ = eps*x + (1-eps)*G(z), one eps ~ U[0,1] per sample      (stepped ``critic_steps`` times)
    L_G = -E_z[D(G(z))]                                               (then one generator step)

lambda = 10. The ``paper`` preset is the official MNIST code: 5 critic steps, Adam(1e-4, betas (0.5, 0.9)), z of
128 and N(0, I) samples (REFERENCE.md sec. 1.3; the paper's Algorithm 1 uses beta1 = 0). The defaults, measured at
equal CPU time (MODELS.md), take 2 critic steps at a critic lr of 4e-4 and a generator lr of 2e-4 (two
time-scales). The critic is 64 wide (the official code's DIM = 64; chosen on three seeds, MODELS.md), the
generator the zoo's shared 32-wide one. The loss is the ``loss.adversarial`` plugin, so
``--set loss.adversarial=hinge`` trains the same nets with the hinge loss. ``--set augment=translation``
shows the critic randomly shifted real and generated images (DiffAugment; genzoo_models.augment).

Where samples come from. A continuous G fed a connected N(0, I) must also draw the images between
disconnected classes (Khayatkhoei et al. 2018; Tanielian et al. 2020): most of the default run's
unrecognised samples sit between two digits (MODELS.md). As the encoder models do, wgan-gp samples by
default from a Gaussian mixture fitted to codes of the training images (``sampling_prior``,
genzoo_models.sampling_prior); having no encoder, it gets the codes from a latent regressor R trained
beside G on G's own samples (Donahue et al. 2017, sec. 4.1's "latent regressor"):

    L_R = E_z ||R(G(z)) - z||^2      (G(z) detached: G's gradient is L_G's alone; z the generator step's own
                                      code, from N(0, I) or, with the cluster critic, the mixture)

R steps with the generator player on the same G(z), detached: its parameters are its own (Adam treats them
apart) and it draws no randomness of its own, so without the cluster critic (below) G and D take exactly the
updates of a run without R (same seed, same weights; under fp16 the player's one grad scaler would also skip G's
step when R's gradients overflow). The mixture is fitted to R(x) of the first ``sampling_prior.images`` training images
before every checkpoint. ``--set sampling_prior.kind=normal`` (and the ``paper`` preset) samples
N(0, I) and builds no regressor.

The cluster critic (``cluster_critic``, on by default with the mixture). Once the mixture is fitted, its
components are used as classes found without labels: a real image's class is the component of R(x) (the
most responsible one), the critic becomes a projection critic D(x | k) = D(x) + <e_k, phi(x)> (Miyato &
Koyama 2018; phi its features, one learned e_k per component), each fake in a critic step is drawn from
the component of the real image it is paired with (so the penalty's interpolates join images of one
class), and the generator trains on the mixture's codes, the ones it is sampled from. This is Liu et
al. 2020's self-conditioned GAN with the clusters taken from R's codes rather than the critic's
features. L_D and L_G keep their form with D(x | k) for D, but estimate a class-conditional distance (the
penalty's interpolates stay within a class), closer to a weighted sum of per-cluster Wasserstein distances
than W1: the default is WGAN-GP's loss with self-conditioning, the ``paper`` preset the plain model. Every
refit starts from the previous mixture, so component k stays the same cluster and e_k keeps its meaning (a
refit that cannot, with fewer codes than components, zeroes the projection). Until the first fit (the first
checkpoint) the run is plain WGAN-GP on N(0, I); training draws at temperature 1.

Sampling refines each code (``refine_steps``, default 10) once the cluster critic is live: before G draws it, z
climbs the critic's score, z <- z + refine_step * grad_z D(G(z) | k), the latent-space gradient step of Tanaka
(2019)'s discriminator optimal transport without its transport-cost term (ten small steps keep z near its draw:
a mean move of about 0.2 in 16 dimensions). Training never uses it; without the cluster critic (the ``paper``
preset, N(0, I), files from before it) samples are G(z) as trained.

No encoder capability: R only inverts G's samples, it is no posterior, so the likelihood metrics that need
q(z|x) do not apply. ``decoder_log_prob`` uses Bernoulli on (x+1)/2 with p = (G(z)+1)/2, for AIS-style
metrics that only need a decoder.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor, nn

from genzoo.errors import ConfigError, GenzooError
from genzoo.model import Player
from genzoo_models.augment import augment
from genzoo_models.common import LatentModel, check_player
from genzoo_models.configs import NetConfig, WGANGPConfig
from genzoo_models.nets import NetPlan, build_encoder

REFINE_BATCH = 256  # codes refined together (their backward pass is held in memory at once)


class LatentRegressor(nn.Module):
    """x -> z, trained to recover the codes of the generator's samples; ``updates`` counts its training
    steps (an integer, so the weight average copies it), 0 in a checkpoint written before it existed."""

    def __init__(self, plan: NetPlan, net: NetConfig, latent_dim: int) -> None:
        super().__init__()
        self.net = build_encoder(plan, net, net.encoder_width, latent_dim, net.encoder_norm)
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class ClusterProjection(nn.Module):
    """One learned vector e_k per mixture component; the critic's score of x as a member of component k
    is D(x) + <e_k, phi(x)>, phi(x) the critic's features (Miyato & Koyama 2018's projection discriminator,
    with the mixture's components as its classes). Zero at the start, so the critic starts unconditional."""

    def __init__(self, components: int, features: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(components, features)
        nn.init.zeros_(self.embedding.weight)


class _ClusterCritic(nn.Module):
    """The critic of images whose components ``labels`` are fixed beforehand. A batch holding several
    copies' worth of images (the adversarial loss scores cat([real, fake]) in one call) repeats them."""

    def __init__(self, critic: nn.Module, projection: ClusterProjection, labels: Tensor) -> None:
        super().__init__()
        self.critic, self.projection, self.labels = critic, projection, labels

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[0] % self.labels.shape[0]:
            raise GenzooError(f"the cluster critic got {x.shape[0]} images for {self.labels.shape[0]} labels; "
                              "a batch it scores must hold whole copies of the labelled batch")
        features = self.critic.features(x).flatten(1)
        labels = self.labels.repeat(x.shape[0] // self.labels.shape[0])
        return self.critic.head(features) + (self.projection.embedding(labels) * features).sum(1, keepdim=True)


class WGANGP(LatentModel):
    """Generator and critic; the critic takes ``critic_steps`` steps per generator step."""

    # checkpoints from before the latent regressor and fitted prior load with N(0, I) sampling
    optional_state = ("sampling_prior.", "regressor.", "cluster_projection.")
    # a refit reads the trained regressor from the file and fits the mixture afresh; the projection keyed on
    # the old components goes with them (it only matters to training: a refitted file samples as any other)
    refitted_state = ("sampling_prior.", "cluster_projection.")

    def __init__(self, config: WGANGPConfig, data_shape: Sequence[int]) -> None:
        super().__init__(config, data_shape)
        self.adversarial = self._loss("adversarial")
        self._build_generator()
        self._build_critic(self.adversarial)
        if hasattr(self, "sampling_prior"):
            if config.sampling_prior.draws != 1:  # R(x) is deterministic: more draws would repeat each code
                raise ConfigError("wgan-gp's regressor gives one code per image: set sampling_prior.draws=1")
            self.regressor = LatentRegressor(self.plan, config.net, config.latent_dim)
            if config.cluster_critic:
                self.cluster_projection = ClusterProjection(config.sampling_prior.components, self.critic.head.in_features)
        self._set_observation("bernoulli")

    @property
    def prior_warm_start(self) -> bool:
        return hasattr(self, "cluster_projection")  # the projection's e_k must keep meaning component k

    def players(self) -> list[Player]:
        cfg = self.config
        generator = ("generator", "regressor") if hasattr(self, "regressor") else ("generator",)
        critic = ("critic", "cluster_projection") if hasattr(self, "cluster_projection") else ("critic",)
        return [
            Player("critic", critic, lr=cfg.critic_lr, betas=tuple(cfg.betas), steps=cfg.critic_steps),
            Player("generator", generator, lr=cfg.generator_lr, betas=tuple(cfg.betas)),
        ]

    def loss(self, player: str, batch: Tensor) -> dict[str, Tensor]:
        z = self.prior(batch.shape[0], batch)
        kind = self.config.augment
        clustered = hasattr(self, "cluster_projection") and self.sampling_prior.is_fitted
        critic: nn.Module = self.critic
        if player == "critic":
            with torch.no_grad():
                if clustered:  # each fake drawn from the component of the real image it is paired with
                    labels = self._clusters_of(batch)
                    z = self.sampling_prior.draw(labels, z, temperature=1.0).to(z.dtype)
                    critic = _ClusterCritic(self.critic, self.cluster_projection, labels)
                fake = self.generator(z)
            return self.adversarial.discriminator_loss(critic, augment(batch, kind), augment(fake, kind))
        check_player(self, player, "generator")
        if clustered:  # the generator trains on the codes it will be sampled from
            labels, fresh = self.sampling_prior.split(z)
            z = self.sampling_prior.draw(labels, fresh, temperature=1.0).to(z.dtype)  # T is for sampling only
            critic = _ClusterCritic(self.critic, self.cluster_projection, labels)
        fake = self.generator(z)
        adversarial = self.adversarial.generator_loss(critic(augment(fake, kind)))
        if not hasattr(self, "regressor"):
            return {"loss": adversarial}
        regression = (self.regressor(fake.detach()).float() - z.float()).pow(2).sum(1).mean()
        if self.training:
            self.regressor.updates += 1
        return {"loss": adversarial + regression, "adversarial": adversarial.detach(),
                "latent_regression": regression.detach()}

    def generate(self, noise: Tensor) -> Tensor:
        """G(z) of the prior's code z; with the cluster critic live, z first takes ``refine_steps`` steps up
        D(G(z) | k) (module docstring). Models without it (the paper preset, N(0, I), files from before the
        cluster critic) draw G(z) as trained."""
        steps = self.config.refine_steps
        if not (steps and hasattr(self, "cluster_projection") and self.sampling_prior.is_fitted):
            return super().generate(noise)
        labels, fresh = self.sampling_prior.split(noise)
        z = self.sampling_prior.draw(labels, fresh).to(noise.dtype)  # = transform(noise), keeping each k
        # Only z's gradient is taken: outside no_grad / inference_mode, in full precision (an fp16 sample grid
        # has no loss scaling), with G in eval mode (its batch-norm statistics must not move). Each code's step
        # depends on its own image alone, so codes are refined REFINE_BATCH at a time: the backward pass holds
        # the activations of that many images, not of the whole draw (a large 3-D draw would not fit).
        training = self.generator.training
        self.generator.eval()
        try:
            with torch.inference_mode(False), torch.enable_grad(), torch.autocast(z.device.type, enabled=False):
                z = torch.cat([self._refined(codes, k, steps) for codes, k in
                               zip(z.float().split(REFINE_BATCH), labels.split(REFINE_BATCH))])  # fmt: skip
        finally:
            self.generator.train(training)
        return self.generator(z.to(noise.dtype))

    def _refined(self, z: Tensor, labels: Tensor, steps: int) -> Tensor:
        """``z`` after ``steps`` steps up D(G(z) | labels) (gradients enabled by the caller)."""
        critic = _ClusterCritic(self.critic, self.cluster_projection, labels)
        z = z.clone()  # a normal tensor even if the draw began under inference_mode
        for _ in range(steps):
            code = z.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(critic(self.generator(code)).float().sum(), code)
            z = code.detach() + self.config.refine_step * grad
        return z.detach()

    def fit_prior(self, batches: Iterable[Tensor]) -> None:
        super().fit_prior(batches)
        if hasattr(self, "cluster_projection") and not self.sampling_prior.warm_started:
            # a fresh fit numbers its components anew: vectors learned for the old ones would mislabel them
            with torch.no_grad():
                self.cluster_projection.embedding.weight.zero_()

    def _clusters_of(self, images: Tensor) -> Tensor:
        """The mixture component of each image's code R(x), R in eval mode (its running statistics, as at the
        prior's fit, and no update of them from real images). This is the live R, while the mixture was
        fitted to the codes of the weight average's R at the last checkpoint: both invert the same G."""
        training = self.regressor.training
        self.regressor.eval()
        try:
            return self.sampling_prior.assign(self.regressor(images))
        finally:
            self.regressor.train(training)

    def prior_codes(self, batches: Iterable[Tensor]) -> Tensor:
        """R(x) of the training images (one deterministic code each), in place of an encoder's samples."""
        if int(self.regressor.updates) == 0:
            raise ConfigError(
                "this wgan-gp checkpoint has no trained latent regressor (it was written before wgan-gp had one), "
                "so there are no codes to fit a prior to; it samples from N(0, I) as trained"
            )
        codes = [self.regressor(batch).float().cpu() for batch in batches]
        if not codes:
            raise ConfigError("no training images to fit the sampling prior on")
        return torch.cat(codes)


def build(config: WGANGPConfig, data_shape: Sequence[int]) -> WGANGP:
    """Factory named in the plugin's ModelSpec."""
    return WGANGP(config, data_shape)
