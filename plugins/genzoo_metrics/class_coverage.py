"""Class coverage: how many samples a data set's classifier recognises, and how evenly they spread
over the classes (the "recognisable digits" and mode-coverage checks of issue 10).

For N samples with softmax probabilities p_i(y) from the feature network's classifier head
(K classes), with ŷ_i = argmax_y p_i(y):

    recognisable = (1/N) Σ_i [max_y p_i(y) >= threshold]             (threshold 0.9)
    p̂(y)         = (1/N) Σ_i [ŷ_i = y]                               (histogram over *all* samples)
    classes      = #{y : p̂(y) >= min_share}                          (min_share 0.04)
    KL(p̂ ‖ U)    = Σ_y p̂(y) log(K p̂(y)) = log K − H(p̂)  nats, 0 log 0 = 0

KL is 0 for a perfectly balanced histogram and log K (2.303 nats for 10 classes) when every
sample lands in one class. The histogram counts every sample's top class, confident or not, so a
model whose samples are noise still shows where the classifier puts them; read it together with
the recognisable share. The same figures on the real held-out images come beside them.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genzoo.errors import ConfigError, NotApplicable
from genzoo_metrics.classifier import context_feature_net, context_features, resolve_feature_net
from genzoo_metrics.configs import ClassCoverageConfig

NAME = "class-coverage"


def kl_to_uniform(shares: Tensor) -> float:
    """KL(p ‖ uniform) in nats for a probability vector ``p`` over K classes (0 log 0 = 0)."""
    p = shares.double()
    nonzero = p[p > 0]
    return float((nonzero * (nonzero * len(p)).log()).sum())


def coverage_from_logits(logits: Tensor, threshold: float = 0.9, min_share: float = 0.04) -> dict[str, float]:
    """Recognisable share, class count, KL to uniform and per-class shares of (N, K) logits.

    Keys: ``recognisable``, ``classes``, ``kl`` and ``share.<y>`` for y = 0..K-1.
    """
    if logits.dim() != 2 or len(logits) == 0:
        raise ConfigError(f"class-coverage needs (N, K) logits of at least one sample, got {tuple(logits.shape)}")
    probs = logits.double().softmax(1)
    confidence, label = probs.max(1)
    shares = torch.bincount(label, minlength=logits.shape[1]).double() / len(label)
    out = {
        "recognisable": float((confidence >= threshold).double().mean()),
        "classes": float((shares >= min_share).sum()),
        "kl": kl_to_uniform(shares),
    }
    out.update({f"share.{y}": float(s) for y, s in enumerate(shares)})
    return out


class ClassCoverage:
    """Metric ``class-coverage``: the recognisable share of samples (headline), the class histogram,
    the classes holding >= ``min_share`` and KL(p̂ ‖ uniform), beside the same on real held-out images.
    """

    def __init__(self, config: ClassCoverageConfig) -> None:
        if not 0.0 < config.threshold <= 1.0:
            raise ConfigError(f"class-coverage threshold must be in (0, 1], got {config.threshold}")
        if not 0.0 <= config.min_share <= 1.0:
            raise ConfigError(f"class-coverage min_share must be in [0, 1], got {config.min_share}")
        self.config = config

    def _logits(self, context: Any, which: str) -> Tensor:
        """Class logits of the context's ``real`` or ``generated`` images, computed once."""
        path = self.config.classifier
        net = context_feature_net(context, path)
        if net.kind != "classifier" or net.num_classes < 2:
            raise NotApplicable(
                f"needs a feature network with a classifier head; this data set's is an {net.kind} "
                "(no labels); pass --set class-coverage.classifier=PATH to a classifier"
            )
        features = context_features(context, path, which)
        device = next(net.parameters()).device

        @torch.no_grad()
        def compute() -> Tensor:
            return net.head_output(features.to(device)).float().cpu()

        return context.cached(("logits", str(resolve_feature_net(path, context.dataset)), which), compute)

    def compute(self, context: Any) -> dict[str, float]:
        cfg = self.config
        result: dict[str, float] = {}
        for which, prefix in (("generated", NAME), ("real", f"{NAME}.real")):
            stats = coverage_from_logits(self._logits(context, which), cfg.threshold, cfg.min_share)
            result[prefix] = stats.pop("recognisable")
            result.update({f"{prefix}.{key}": value for key, value in stats.items()})
        return result
