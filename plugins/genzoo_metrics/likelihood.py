"""The likelihood family for models with an encoder: ELBO, KL, reconstruction error and the
importance-weighted (IWAE) bound on log p(x) (Burda, Grosse & Salakhutdinov 2015).

With q(z|x) = N(μ, diag σ²) from ``model.encode`` and the model's prior p(z) (``model.prior_log_prob``:
N(0, I), or the mixture a model fitted to sample from), for z_i ~ q(z|x):

    log w_i = log p(x|z_i) + log p(z_i) - log q(z_i|x)
    L_k     = log (1/k) Σ_i w_i = logsumexp_i(log w_i) - log k      (``log-likelihood``)
    ELBO    = E_q[log p(x|z)] - KL(q(z|x) ‖ p(z))                    (``elbo``)
    KL      = ½ Σ_j (μ_j² + σ_j² - 1 - log σ_j²)                     (``kl``, closed form for N(0, I))
            = (1/k) Σ_i [log q(z_i|x) - log p(z_i)]                  (any other prior: Monte Carlo)
    recon   = -E_q[log p(x|z)]                                       (``recon-error``)

log p(x|z) is the model's own observation model (``model.decoder_log_prob``), so its units (nats
per image) and meaning (a Bernoulli probability, or a Gaussian density on continuous pixels) come
from the model; the result names the model's ``observation_model`` when it declares one. L_1 is
the ELBO, L_k rises with k toward log p(x). k samples are drawn ``chunk`` at a time and combined
with a running log-sum-exp, so k = 5000 (Burda's evaluation) needs memory for ``chunk`` decodes.
The encoder runs once per image batch; the chunk's ``chunk x batch`` decodes run
``decode_batch`` rows per decoder call. Small calls keep a CPU decoder's activations in cache (on
a 2-core Xeon 128 rows decode about 3x faster per row than the 10,000 of one 500 x 20 chunk), and
the noise is drawn per chunk exactly as before, so the values do not depend on ``decode_batch``.
The ELBO uses the mean of the same k log-weights' reconstruction terms (a k-sample Monte-Carlo
estimate) and the KL above, so ELBO = -recon - KL exactly.

Binarisation (REFERENCE §4.1): ``none`` scores the images as given; ``dynamic`` draws
x_bin ~ Bernoulli((x+1)/2) once per image with a fixed seed; ``threshold`` uses (x+1)/2 > 0.5.
Binarised images are passed to the model in its [-1, 1] range ({-1, 1}).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator

import torch
from torch import Tensor

from genzoo.errors import ConfigError

LOG_2PI = math.log(2 * math.pi)


def diagonal_normal_log_prob(z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """log N(z; μ, diag exp(logvar)) summed over all non-batch axes."""
    value = -0.5 * (LOG_2PI + logvar + (z - mu) ** 2 * torch.exp(-logvar))
    return value.flatten(1).sum(1)


def standard_normal_log_prob(z: Tensor) -> Tensor:
    """log N(z; 0, I) summed over all non-batch axes."""
    return (-0.5 * (LOG_2PI + z**2)).flatten(1).sum(1)


def gaussian_kl(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(μ, σ²) ‖ N(0, I)) per image, closed form."""
    return (0.5 * (mu**2 + logvar.exp() - 1 - logvar)).flatten(1).sum(1)


def binarise(x: Tensor, mode: str, generator: torch.Generator) -> Tensor:
    """Binarise [-1, 1] images to {-1, 1} (see the module docstring)."""
    if mode == "none":
        return x
    p = ((x + 1) / 2).clamp(0, 1)
    if mode == "dynamic":
        bits = torch.bernoulli(p.cpu(), generator=generator).to(x.device)
    elif mode == "threshold":
        bits = (p > 0.5).to(x.dtype)
    else:
        raise ConfigError(f"binarise must be none, dynamic or threshold, got {mode!r}")
    return bits * 2 - 1


#: rows per decoder call when ``decode_batch`` is 0: cache-sized on a CPU, the whole chunk on a GPU
CPU_DECODE_BATCH = 128


@torch.no_grad()
def importance_weights_summary(
    model: object,
    x: Tensor,
    samples: int,
    chunk: int,
    generator: torch.Generator | None = None,
    decode_batch: int = 0,
) -> dict[str, Tensor]:
    """Per-image IWAE bound, mean reconstruction log-likelihood and KL for a batch ``x``.

    Returns tensors of shape (B,): ``log_likelihood`` (L_k), ``recon_log_prob`` (mean over the k
    samples of log p(x|z_i)) and ``kl`` (closed form). ``decode_batch`` (0: automatic) only sets
    how many rows each decoder call takes.
    """
    if samples < 1 or chunk < 1 or decode_batch < 0:
        raise ConfigError("the IWAE bound needs samples >= 1, chunk >= 1 and decode_batch >= 0")
    mu, logvar = model.encode(x)  # type: ignore[attr-defined]
    batch = len(x)
    rows = decode_batch or (CPU_DECODE_BATCH if x.device.type == "cpu" else chunk * batch)
    running = torch.full((batch,), -math.inf, dtype=torch.float64, device=x.device)
    recon_sum = torch.zeros(batch, dtype=torch.float64, device=x.device)
    std = torch.exp(0.5 * logvar)
    log_ratio_sum = torch.zeros(batch, dtype=torch.float64, device=x.device)
    # The prior samples are drawn from: N(0, I) unless the model fitted another (genzoo_models.sampling_prior).
    prior_log_prob = getattr(model, "prior_log_prob", standard_normal_log_prob)
    standard_prior = bool(getattr(model, "prior_is_standard_normal", True))
    done = 0
    while done < samples:
        k = min(chunk, samples - done)
        eps = torch.randn((k, *mu.shape), generator=generator, device="cpu" if generator else mu.device, dtype=mu.dtype)
        z = (mu + std * eps.to(mu.device)).reshape(k * batch, *mu.shape[1:])
        log_px = torch.cat([
            # row r of the chunk is sample r // batch of image r % batch
            model.decoder_log_prob(x[torch.arange(start, min(start + rows, len(z)), device=x.device) % batch],  # type: ignore[attr-defined]
                                   z[start : start + rows]).double()
            for start in range(0, len(z), rows)
        ])
        mus = mu.unsqueeze(0).expand(k, *mu.shape).reshape_as(z)
        logvars = logvar.unsqueeze(0).expand(k, *logvar.shape).reshape_as(z)
        log_q = diagonal_normal_log_prob(z, mus, logvars).double()
        log_p = prior_log_prob(z).double()
        log_w = log_px + log_p - log_q
        running = torch.logaddexp(running, torch.logsumexp(log_w.view(k, batch), dim=0))
        recon_sum += log_px.view(k, batch).sum(0)
        log_ratio_sum += (log_q - log_p).view(k, batch).sum(0)
        done += k
    kl = gaussian_kl(mu, logvar).double() if standard_prior else log_ratio_sum / samples
    return {"log_likelihood": running - math.log(samples), "recon_log_prob": recon_sum / samples, "kl": kl}


@contextlib.contextmanager
def channels_last_on_cpu(model: object, device: torch.device | str) -> Iterator[None]:
    """Hold the model's 4-d (conv) weights channels-last while it is scored on a CPU.

    oneDNN's convolutions run faster on NHWC data here; the layout changes no value beyond float
    rounding, and every weight gets its original storage back afterwards.
    """
    params = [p for p in getattr(model, "parameters", lambda: [])() if p.dim() == 4]
    if torch.device(device).type != "cpu" or not params:
        yield
        return
    original = [p.data for p in params]
    for param in params:
        param.data = param.data.contiguous(memory_format=torch.channels_last)
    try:
        yield
    finally:
        for param, data in zip(params, original):
            param.data = data


class LikelihoodMetric:
    """Metrics ``elbo``, ``kl``, ``recon-error`` and ``log-likelihood`` (one class, one output key each).

    All four share one pass when run through the same context (the context caches the summary per
    config), so asking for all of them costs one IWAE evaluation.
    """

    def __init__(self, config: object, output: str) -> None:
        self.config = config
        self.output = output

    def compute(self, context: object) -> dict[str, float]:
        key = ("likelihood", repr(self.config))
        summary = context.cached(key, lambda: self._summary(context))  # type: ignore[attr-defined]
        return {
            self.output: summary[self.output],
            **{k: v for k, v in summary.items() if k.startswith(self.output + ".")},
        }

    def _summary(self, context: object) -> dict[str, float]:
        cfg = self.config
        model = context.model  # type: ignore[attr-defined]
        real = context.real  # type: ignore[attr-defined]
        if cfg.max_images:
            real = real[: cfg.max_images]
        generator = context.generator("likelihood")  # type: ignore[attr-defined]
        real = binarise(real, cfg.binarise, generator)
        device = context.device  # type: ignore[attr-defined]
        parts: dict[str, list[Tensor]] = {"log_likelihood": [], "recon_log_prob": [], "kl": []}
        with channels_last_on_cpu(model, device):
            for start in range(0, len(real), cfg.batch_size):
                x = real[start : start + cfg.batch_size].to(device)
                out = importance_weights_summary(model, x, cfg.samples, cfg.chunk, generator, cfg.decode_batch)
                for key, value in out.items():
                    parts[key].append(value.cpu())
        ll = torch.cat(parts["log_likelihood"])
        recon = -torch.cat(parts["recon_log_prob"])
        kl = torch.cat(parts["kl"])
        elbo = -recon - kl
        observation = getattr(model, "observation_model", None) or type(model).__name__ + ".decoder_log_prob"
        note = f"k={cfg.samples}, n={len(real)}, binarise={cfg.binarise}, p(x|z)={observation}"
        result = {
            "log-likelihood": float(ll.mean()),
            "elbo": float(elbo.mean()),
            "kl": float(kl.mean()),
            "recon-error": float(recon.mean()),
        }
        for key, values in (("log-likelihood", ll), ("elbo", elbo), ("kl", kl), ("recon-error", recon)):
            result[key + ".sem"] = float(values.std() / math.sqrt(len(values))) if len(values) > 1 else math.nan
        context.notes["likelihood"] = note  # type: ignore[attr-defined]
        return result


def elbo(config: object) -> LikelihoodMetric:
    return LikelihoodMetric(config, "elbo")


def kl(config: object) -> LikelihoodMetric:
    return LikelihoodMetric(config, "kl")


def recon_error(config: object) -> LikelihoodMetric:
    return LikelihoodMetric(config, "recon-error")


def log_likelihood(config: object) -> LikelihoodMetric:
    return LikelihoodMetric(config, "log-likelihood")
