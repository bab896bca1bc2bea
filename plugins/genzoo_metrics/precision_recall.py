"""Improved precision and recall (Kynkäänniemi et al. 2019, "Improved Precision and Recall Metric for
Assessing Generative Models", NeurIPS) on the feature network's features.

Each feature set approximates its manifold by the union of hyperspheres around its points, each
with the radius to the point's k-th nearest neighbour in the same set (k = 3):

    f(φ, Φ)   = 1 if ‖φ − φ'‖ ≤ ‖φ' − NN_k(φ', Φ)‖ for at least one φ' ∈ Φ, else 0
    precision = (1/|Φ_g|) Σ_{φ ∈ Φ_g} f(φ, Φ_r)        share of samples on the real manifold
    recall    = (1/|Φ_r|) Σ_{φ ∈ Φ_r} f(φ, Φ_g)        share of real images on the generated manifold

Low precision means unrealistic samples; low recall means parts of the real distribution are never
generated (mode collapse). NN_k excludes the point itself. Distances are Euclidean, in float64, from
the Gram matrix, ``chunk_size`` query rows at a time, so memory is O(chunk_size · N): 10,000 x 10,000
needs one 1,024 x 10,000 block (80 MB), never the full matrix. Precision and recall depend on N (the
radii shrink as N grows) and on k; compare models at one N, next to the real-vs-real value.
``≤`` follows the paper; Naeem et al.'s ``prdc`` uses ``<``, the same on continuous features.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from genzoo.errors import ConfigError
from genzoo_metrics.classifier import context_features, resolve_feature_net
from genzoo_metrics.configs import PrecisionRecallConfig
from genzoo_metrics.mmd import squared_distances

NAME = "precision-recall"


def knn_radii(features: Tensor, k: int = 3, chunk: int = 1024) -> Tensor:
    """Distance of every row of (N, d) ``features`` to its k-th nearest other row; (N,) float64."""
    if k < 1:
        raise ConfigError(f"precision-recall needs k >= 1, got {k}")
    if len(features) <= k:
        raise ConfigError(f"precision-recall with k={k} needs more than {k} samples per set, got {len(features)}")
    f = features.flatten(1).double()
    out = []
    for start in range(0, len(f), chunk):
        d = squared_distances(f[start : start + chunk], f)
        # k + 1 smallest: the point itself (distance 0) is among them, so index k is the k-th neighbour.
        out.append(d.topk(k + 1, dim=1, largest=False).values[:, k])
    return torch.cat(out).sqrt()


def manifold_share(query: Tensor, support: Tensor, radii: Tensor, chunk: int = 1024) -> float:
    """Share of ``query`` rows within ``radii[j]`` of at least one ``support`` row j."""
    q = query.flatten(1).double()
    s = support.flatten(1).double()
    limit = radii.double().pow(2)[None, :]
    inside = 0
    for start in range(0, len(q), chunk):
        inside += int((squared_distances(q[start : start + chunk], s) <= limit).any(1).sum())
    return inside / max(len(q), 1)


def precision_recall(
    real: Tensor, fake: Tensor, k: int = 3, chunk: int = 1024, real_radii: Tensor | None = None
) -> tuple[float, float]:
    """(precision, recall) of ``fake`` against ``real`` features; ``real_radii`` reuses known radii."""
    if real_radii is None:
        real_radii = knn_radii(real, k, chunk)
    precision = manifold_share(fake, real, real_radii, chunk)
    recall = manifold_share(real, fake, knn_radii(fake, k, chunk), chunk)
    return precision, recall


class PrecisionRecall:
    """Metric ``precision-recall``: recall (headline; the mode-collapse figure) and precision on
    feature-network activations, beside the real-vs-real values (training vs held-out images)."""

    def __init__(self, config: PrecisionRecallConfig) -> None:
        if config.k < 1 or config.chunk_size < 1:
            raise ConfigError(
                f"precision-recall needs k >= 1 and chunk_size >= 1, got k={config.k}, chunk_size={config.chunk_size}"
            )
        self.config = config

    def compute(self, context: Any) -> dict[str, float]:
        cfg = self.config
        real = context_features(context, cfg.classifier, "real")
        fake = context_features(context, cfg.classifier, "generated")
        key = ("knn-radii", str(resolve_feature_net(cfg.classifier, context.dataset)), cfg.k)
        real_radii = context.cached(key, lambda: knn_radii(real, cfg.k, cfg.chunk_size))
        precision, recall = precision_recall(real, fake, cfg.k, cfg.chunk_size, real_radii)
        result = {NAME: recall, f"{NAME}.precision": precision, f"{NAME}.recall": recall}
        if not cfg.real:
            return result
        reference = context_features(context, cfg.classifier, "reference")
        if reference is not None and len(reference) >= len(real):
            # Training images scored as if generated, at the same N: what a perfect model gets.
            ref_precision, ref_recall = precision_recall(
                real, reference[: len(real)], cfg.k, cfg.chunk_size, real_radii
            )
        else:
            # No separate training split: two random halves of the held-out images (N/2 each; radii
            # grow as N shrinks, so these read slightly high).
            order = torch.randperm(len(real), generator=context.generator("precision-recall/halves"))
            half = len(real) // 2
            ref_precision, ref_recall = precision_recall(real[order[:half]], real[order[half:]], cfg.k, cfg.chunk_size)
            context.notes[NAME] = f"real-vs-real from two random halves of the held-out split ({half} images each)"
        result[f"{NAME}.real.precision"] = ref_precision
        result[f"{NAME}.real.recall"] = ref_recall
        return result
