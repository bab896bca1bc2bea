"""The paper's claims decided from per-seed values: held, not held, inconclusive, not testable."""

from __future__ import annotations

from types import SimpleNamespace

from genzoo_metrics.report_claims import judge_claims


def cell(**per_key):
    seeds = len(next(iter(per_key.values())))
    return {"per_seed": [{k: v[i] for k, v in per_key.items()} for i in range(seeds)]}


def test_claims_from_per_seed_values():
    results = {
        "table3": {
            "gvae (tuned)": cell(sharpness=[0.30, 0.31, 0.29], **{"precision-recall.recall": [0.5, 0.52, 0.51]},
                                 mmd=[0.010, 0.012, 0.011]),
            "vae (tuned)": cell(sharpness=[0.10, 0.12, 0.11], mmd=[0.02, 0.021, 0.019]),
            "wgan-gp (tuned)": cell(**{"precision-recall.recall": [0.70, 0.72, 0.71]}, mmd=[0.005, 0.006, 0.004]),
        },
        "table4": {"1000": cell(fid=[9.0, 9.5, 9.2]), "100": cell(fid=[8.0, 12.0, 10.0])},
        "table5": {"gvae": cell(**{"log-likelihood": [-90.0, -91.0, -89.0]})},
    }
    settings = SimpleNamespace(sweep_model="gvae", models=("gvae", "vae", "wgan-gp"), iwae_k=100, test_dataset="mnist")
    verdicts = {c["claim"]: c["verdict"] for c in judge_claims(results, settings)}
    assert verdicts["gvae is sharper than vae"] == "held"
    assert verdicts["gvae collapses fewer modes than wgan-gp (recall)"] == "not held"
    assert verdicts["latent size 1000 is best (FID)"] == "inconclusive"
    assert verdicts["gvae is best on MMD"] == "not held"  # it beats vae but not wgan-gp
    assert verdicts["gvae reaches Table 6's -82.2 nats"] == "not held"
    settings.test_dataset = None  # the paper's figure is on the real MNIST test split
    nats = [c for c in judge_claims(results, settings) if "nats" in c["claim"]][0]
    assert nats["verdict"] == "not testable here" and "-90" in nats["evidence"]
