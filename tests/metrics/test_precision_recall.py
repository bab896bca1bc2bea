"""precision-recall against a brute-force scipy implementation, Naeem et al.'s prdc, closed-form
cases, and real mnist5k features (real-vs-real)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from genzoo.evaluation import EvalContext, dataset_images, evaluate
from genzoo_metrics.precision_recall import knn_radii, manifold_share, precision_recall


def brute_force(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, float]:
    """Kynkäänniemi et al. 2019, eq. (1)-(2), from full scipy distance matrices."""
    real_radii = np.sort(cdist(real, real), axis=1)[:, k]  # column 0 is the point itself
    fake_radii = np.sort(cdist(fake, fake), axis=1)[:, k]
    cross = cdist(fake, real)  # (fake, real)
    precision = (cross <= real_radii[None, :]).any(1).mean()
    recall = (cross.T <= fake_radii[None, :]).any(1).mean()
    return float(precision), float(recall)


def _gaussians(n: int, d: int, seed: int, shift: float = 0.0, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * scale + shift


@pytest.mark.parametrize("k, chunk", [(3, 37), (1, 1000), (5, 64)])
def test_matches_brute_force_cdist_on_random_data(k: int, chunk: int) -> None:
    real = _gaussians(300, 8, 0)
    fake = _gaussians(250, 8, 1, shift=0.4, scale=0.7)  # off-centre and narrower: precision > recall
    ours = precision_recall(real, fake, k, chunk)
    theirs = brute_force(real.numpy(), fake.numpy(), k)
    assert ours == pytest.approx(theirs, abs=1e-12)
    assert 0.1 < theirs[1] < theirs[0] < 1.0
    np.testing.assert_allclose(knn_radii(real, k, chunk).numpy(), np.sort(cdist(real, real), 1)[:, k], rtol=1e-9)


def test_matches_prdc(monkeypatch) -> None:
    prdc = pytest.importorskip("prdc")
    import sklearn.metrics

    pairwise = sklearn.metrics.pairwise_distances

    def one_process(*args, **kwargs):  # prdc asks for n_jobs=8 worker processes; 2 cores are shared
        return pairwise(*args, **{**kwargs, "n_jobs": 1})

    monkeypatch.setattr(sklearn.metrics, "pairwise_distances", one_process)
    real = _gaussians(200, 16, 2).float()
    fake = _gaussians(200, 16, 3, shift=0.3, scale=1.3).float()
    theirs = prdc.compute_prdc(real.numpy(), fake.numpy(), nearest_k=3)
    ours = precision_recall(real, fake, k=3, chunk=64)
    assert ours == pytest.approx((theirs["precision"], theirs["recall"]), abs=1e-12)


def test_closed_form_cases() -> None:
    real = _gaussians(120, 4, 4)
    assert precision_recall(real, real.clone()) == (1.0, 1.0)
    assert precision_recall(real, _gaussians(120, 4, 5, shift=100.0)) == (0.0, 0.0)
    # Real data in two far-apart modes; the generator covers only the first one.
    modes = torch.cat([_gaussians(100, 4, 6), _gaussians(100, 4, 7, shift=50.0)])
    one_mode = _gaussians(100, 4, 8)
    precision, recall = precision_recall(modes, one_mode)
    assert precision > 0.9 and recall == pytest.approx(0.5, abs=0.06)
    # The share is taken over the query side: every point inside its own radius-0 ball counts.
    assert manifold_share(real[:5], real, torch.zeros(len(real))) == 1.0


def test_too_few_samples_for_k_is_a_config_error() -> None:
    from genzoo.errors import ConfigError

    with pytest.raises(ConfigError, match="more than 3"):
        knn_radii(torch.zeros(3, 2), k=3)


def test_metric_on_mnist5k_features_with_real_vs_real(metrics_registry) -> None:
    spec = metrics_registry.get("dataset", "mnist5k")
    real, labels = dataset_images(metrics_registry.build_dataset("mnist5k", None, spec.eval_split), 200, seed=0)
    reference, _ = dataset_images(metrics_registry.build_dataset("mnist5k", None, "train"), 200, seed=1)
    ones = real[labels == 1]
    collapsed = ones[torch.arange(200) % len(ones)]  # a generator that draws only ones
    context = EvalContext(object(), real, reference=reference, generated=collapsed, dataset="mnist5k")
    (result,) = evaluate(context, ["precision-recall"], None, metrics_registry)
    v = result.values
    assert result.value == v["precision-recall.recall"]
    # Real ones are real digits (high precision), but they cover about a tenth of the digits.
    assert v["precision-recall.precision"] > 0.9 and v["precision-recall.recall"] < 0.25
    assert v["precision-recall.real.precision"] > 0.6 and v["precision-recall.real.recall"] > 0.6
    # Without a training split the reference is two halves of the held-out images, and says so.
    halves = EvalContext(object(), real, generated=collapsed, dataset="mnist5k")
    (fallback,) = evaluate(halves, ["precision-recall"], {"precision-recall": {"k": 2}}, metrics_registry)
    assert fallback.values["precision-recall.real.recall"] > 0.6
    assert "halves" in halves.notes["precision-recall"]
