"""A sampling prior fitted to the aggregate posterior: ex-post density estimation.

A VAE-family model is trained with codes z ~ N(0, I), but its encoder never fills that ball evenly:
the aggregate posterior q(z) = E_x[q(z|x)] has holes between its classes, and prior samples that
land in a hole decode to scribbles (MODELS.md: GVAE's reconstructions score 0.93 recognisable, its
N(0, I) samples 0.67). Ghosh et al. 2020 ("From Variational to Deterministic Autoencoders", sec. 4)
fit a Gaussian mixture to the encoded training codes after training and sample from it instead;
Dai & Wipf 2019 ("Diagnosing and Enhancing VAE Models") use a second-stage VAE for the same end.
Training is unchanged; only the distribution that ``generate`` draws codes from is (except for wgan-gp's
cluster critic, which also trains on the mixture: genzoo_models.wgan_gp).

The mixture p(z) = Σ_k w_k N(z; m_k, L_k L_kᵀ) is fitted by EM (Dempster et al. 1977) in float64 on
codes z = μ + σ·ε of up to ``images`` training images (``draws`` codes each), with ``ridge``·I added
to each covariance.
Covariances are full up to ``FULL_COVARIANCE_MAX_DIM`` latent dimensions and diagonal above (a full
d×d matrix per component needs more codes than a CPU budget encodes).

``transform`` turns standard normal noise ε ∈ R^d into a mixture sample without extra randomness,
so fixed noise still gives fixed samples: with u = Φ(ε₁) the component is the k whose cumulative
weight interval [c_{k−1}, c_k) holds u; given k, (u − c_{k−1}) / w_k is again U(0, 1) and
independent of k, so ε₁' = Φ⁻¹ of it is a fresh N(0, 1) and z = m_k + L_k (ε₁', ε₂, ..., ε_d) is an
exact draw from the mixture. ``temperature`` T scales the whole within-component noise,
z = m_k + T·L_k ε' (T = 1: the mixture; the component weights are untouched, so every class keeps
its share); ``log_prob`` stays the fitted mixture's. Until fitted (``fitted`` = 0) the prior is
N(0, I) and ``transform`` is the identity.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor, nn

from genzoo.errors import ConfigError
from genzoo_models.configs import SamplingPriorConfig

#: above this many latent dimensions the components' covariances are diagonal
FULL_COVARIANCE_MAX_DIM = 64
LOG_2PI = math.log(2 * math.pi)


class MixturePrior(nn.Module):
    """A Gaussian mixture over codes of size ``dim``, N(0, I) until :meth:`fit` has run."""

    def __init__(self, dim: int, config: SamplingPriorConfig) -> None:
        super().__init__()
        self.config = config
        self.dim, k = dim, config.components
        self.full = dim <= FULL_COVARIANCE_MAX_DIM
        self.register_buffer("fitted", torch.zeros(()))
        self.warm_started = False  # whether the last fit started from the one before (fit)
        self.register_buffer("weights", torch.full((k,), 1.0 / k))
        self.register_buffer("means", torch.zeros(k, dim))
        # the Cholesky factor L_k of each covariance (full) or its square-root diagonal (diagonal)
        self.register_buffer("scales", torch.eye(dim).repeat(k, 1, 1) if self.full else torch.ones(k, dim))

    @property
    def is_fitted(self) -> bool:
        return bool(self.fitted > 0)

    # --- fitting ------------------------------------------------------------------------------
    @torch.no_grad()
    def fit(self, codes: Tensor, seed: int = 0, warm_start: bool = False) -> None:
        """Fit the mixture to ``codes`` (N, dim) by EM from a seeded k-means++-style start, or with
        ``warm_start`` from the mixture fitted before (if any), so that component k stays the same
        cluster from one refit to the next (wgan-gp's cluster critic keys on it). A warm start needs a
        previous fit and at least as many codes as components; ``warm_started`` says whether it took."""
        x = codes.detach().double().cpu().flatten(1)
        n, k = len(x), self.config.components
        if x.shape[1] != self.dim or n < 2:
            raise ConfigError(f"the sampling prior needs at least 2 codes of size {self.dim}, got {tuple(codes.shape)}")
        if not bool(torch.isfinite(x).all()):
            raise ConfigError("the encoder produced non-finite codes; cannot fit the sampling prior")
        k = min(k, n)
        generator = torch.Generator().manual_seed(seed)
        means = _spread_start(x, k, generator)
        ridge = self.config.ridge
        var = x.var(0).mean() + ridge
        cov = torch.eye(self.dim, dtype=x.dtype).repeat(k, 1, 1) * var if self.full else torch.full((k, self.dim), float(var), dtype=x.dtype)
        weights = torch.full((k,), 1.0 / k, dtype=x.dtype)
        self.warm_started = warm_start and self.is_fitted and k == self.config.components
        if self.warm_started:  # (a component whose weight fell to ~0 stays there: EM does not revive it)
            weights = self.weights.double().cpu().clamp_min(1e-10)
            weights, means, cov = weights / weights.sum(), self.means.double().cpu(), self._covariances().cpu()
        # every per-(code, component) quantity below is a GEMM against the codes or their outer
        # products xxᵀ (N, d²), computed once: no (N, K, d) or (N, K, d, d) intermediates
        outer = (x[:, :, None] * x[:, None, :]).flatten(1) if self.full else x**2
        eye = torch.eye(self.dim, dtype=x.dtype)
        for _ in range(self.config.iterations):
            log_resp = _component_log_probs(x, weights, means, cov, self.full, outer)
            resp = log_resp.softmax(1)  # E-step: responsibilities
            counts = resp.sum(0) + 1e-10
            weights = counts / n  # M-step
            means = resp.T @ x / counts[:, None]
            # Σ_k = Σ_n r_nk x_n x_nᵀ / N_k − m_k m_kᵀ (float64: the cancellation costs ~1e-16 relative)
            second = (resp.T @ outer) / counts[:, None]
            if self.full:
                cov = second.view(-1, self.dim, self.dim) - means[:, :, None] * means[:, None, :]
                cov = 0.5 * (cov + cov.transpose(1, 2)) + ridge * eye
            else:
                cov = (second - means**2).clamp_min(0) + ridge
        scales = torch.linalg.cholesky(cov) if self.full else cov.sqrt()
        pad = self.config.components - k  # fewer codes than components: the rest get zero weight
        if pad:
            weights = torch.cat([weights, weights.new_zeros(pad)])
            means = torch.cat([means, means.new_zeros(pad, self.dim)])
            filler = torch.eye(self.dim, dtype=x.dtype).repeat(pad, 1, 1) if self.full else torch.ones(pad, self.dim, dtype=x.dtype)
            scales = torch.cat([scales, filler])
        for buffer, value in ((self.weights, weights), (self.means, means), (self.scales, scales)):
            buffer.copy_(value.to(buffer))
        self.fitted.fill_(1.0)

    # --- sampling and density -----------------------------------------------------------------
    def transform(self, noise: Tensor) -> Tensor:
        """Codes from standard normal ``noise`` (N, dim): the identity until fitted (module docstring)."""
        if not self.is_fitted:
            return noise
        return self.draw(*self.split(noise)).to(noise.dtype)

    def split(self, noise: Tensor) -> tuple[Tensor, Tensor]:
        """The component k each row of ``noise`` picks and the fresh N(0, I) noise left for the draw
        within it, in float64 (module docstring); :meth:`transform` is ``draw(*split(noise))``."""
        eps = noise.double()
        weights = self.weights.double().clamp_min(0)
        upper = weights.cumsum(0)
        u = _normal_cdf(eps[:, 0]) * upper[-1]
        k = torch.searchsorted(upper, u.contiguous(), right=True).clamp_max(len(weights) - 1)
        lower = upper[k] - weights[k]
        fresh = ((u - lower) / weights[k].clamp_min(1e-300)).clamp(1e-12, 1 - 1e-12)
        return k, torch.cat([_normal_icdf(fresh)[:, None], eps[:, 1:]], 1)

    def draw(self, components: Tensor, noise: Tensor, temperature: float | None = None) -> Tensor:
        """z = m_k + T·L_k ε for each row's component k and standard normal noise ε (N, dim); T is
        ``sampling_prior.temperature`` unless ``temperature`` is given (training draws at T = 1)."""
        eps = noise.double() * (self.config.temperature if temperature is None else temperature)
        scales = self.scales.double()[components]
        spread = (scales @ eps[:, :, None]).squeeze(-1) if self.full else scales * eps
        return (self.means.double()[components] + spread).to(noise.dtype)

    def assign(self, z: Tensor) -> Tensor:
        """The most responsible component of each code (N,): argmax_k w_k N(z; m_k, Σ_k)."""
        return self._log_probs(z).argmax(1)

    def log_prob(self, z: Tensor) -> Tensor:
        """log p(z) per code (N,): the mixture once fitted, N(0, I) before."""
        flat = z.flatten(1)
        if not self.is_fitted:
            return (-0.5 * (LOG_2PI + flat**2)).sum(1)
        return torch.logsumexp(self._log_probs(z), 1).to(z.dtype)

    def _covariances(self) -> Tensor:
        scales = self.scales.double()
        return scales @ scales.transpose(1, 2) if self.full else scales**2

    def _log_probs(self, z: Tensor) -> Tensor:
        """(N, K) log w_k + log N(z_n; m_k, Σ_k) of the fitted mixture."""
        return _component_log_probs(z.flatten(1).double(), self.weights.double(), self.means.double(),
                                    self._covariances(), self.full)


def _spread_start(x: Tensor, k: int, generator: torch.Generator) -> Tensor:
    """k starting means: a random code, then codes drawn with probability ∝ squared distance (k-means++)."""
    chosen = [int(torch.randint(len(x), (1,), generator=generator))]
    nearest = ((x - x[chosen[0]]) ** 2).sum(1)
    for _ in range(1, k):
        total = nearest.sum()
        if not total > 0:
            chosen.append(int(torch.randint(len(x), (1,), generator=generator)))
        else:
            chosen.append(int(torch.multinomial(nearest / total, 1, generator=generator)))
        nearest = torch.minimum(nearest, ((x - x[chosen[-1]]) ** 2).sum(1))
    return x[chosen].clone()


def _component_log_probs(x: Tensor, weights: Tensor, means: Tensor, cov: Tensor, full: bool,
                         outer: Tensor | None = None) -> Tensor:
    """(N, K) log w_k + log N(x_n; m_k, Σ_k), Σ_k full (K, d, d) or diagonal (K, d).

    The Mahalanobis term is expanded, (x − m)ᵀP(x − m) = vec(xxᵀ)·vec(P) − 2 xᵀ(P m) + mᵀP m with
    P = Σ⁻¹, so it is three GEMMs; ``outer`` is vec(xxᵀ) (N, d²), or x² for diagonal Σ, if known.
    """
    d = x.shape[1]
    log_w = weights.clamp_min(1e-300).log()
    if outer is None:
        outer = (x[:, :, None] * x[:, None, :]).flatten(1) if full else x**2
    if full:
        chol = torch.linalg.cholesky(cov)
        eye = torch.eye(d, dtype=x.dtype, device=x.device).expand_as(chol)
        precision = torch.cholesky_solve(eye, chol)  # (K, d, d) = Σ_k⁻¹
        pm = (precision @ means[:, :, None]).squeeze(-1)  # (K, d) = P_k m_k
        log_det = 2 * chol.diagonal(dim1=1, dim2=2).log().sum(1)
        maha = outer @ precision.flatten(1).T - 2 * x @ pm.T + (means * pm).sum(1)
    else:
        precision = 1 / cov  # (K, d)
        log_det = cov.log().sum(1)
        maha = outer @ precision.T - 2 * x @ (means * precision).T + (means**2 * precision).sum(1)
    return log_w - 0.5 * (d * LOG_2PI + log_det + maha.clamp_min(0))


def _normal_cdf(x: Tensor) -> Tensor:
    return 0.5 * torch.erfc(-x / math.sqrt(2))


def _normal_icdf(p: Tensor) -> Tensor:
    return math.sqrt(2) * torch.erfinv(2 * p - 1)


def encoded_codes(encode, batches: Iterable[Tensor], seed: int = 0, draws: int = 1) -> Tensor:
    """z = μ + σ·ε, ``draws`` codes per image of ``batches`` from one encoder pass (ε seeded, so a fit
    never touches the global RNG).

    With several draws the noise comes from a stream drawn in fixed-size blocks and handed out image
    by image, so the codes do not depend on how the images are batched (``torch.randn`` fills
    tensors of different sizes from the same generator differently): the trainer's fit at its batch
    size and ``genzoo fit-prior``'s at another give the same prior. One draw keeps the per-batch
    noise the published checkpoints' priors were fitted with.
    """
    generator = torch.Generator().manual_seed(seed)
    stream = _ImageNoise(generator, draws) if draws > 1 else None
    codes = []
    for batch in batches:
        mu, logvar = encode(batch)
        if stream is None:
            eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype).to(mu.device)
            codes.append((mu + (0.5 * logvar).exp() * eps).float().cpu())
            continue
        eps = stream.take(mu.shape[0], mu.shape[1:]).to(mu.device, mu.dtype)  # (B, draws, d)
        z = mu[:, None] + (0.5 * logvar).exp()[:, None] * eps
        codes.append(z.flatten(0, 1).float().cpu())
    if not codes:
        raise ConfigError("no training images to fit the sampling prior on")
    return torch.cat(codes)


class _ImageNoise:
    """Standard normal noise of shape (draws, *code) per image, drawn ``BLOCK`` images at a time."""

    BLOCK = 1024

    def __init__(self, generator: torch.Generator, draws: int) -> None:
        self.generator, self.draws = generator, draws
        self.left = torch.empty(0)

    def take(self, n: int, code_shape: torch.Size) -> Tensor:
        parts, needed = [], n
        while needed:
            if not len(self.left):
                self.left = torch.randn((self.BLOCK, self.draws, *code_shape), generator=self.generator)
            part, self.left = self.left[:needed], self.left[needed:]
            parts.append(part)
            needed -= len(part)
        return torch.cat(parts)
