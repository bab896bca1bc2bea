"""The report protocol's arithmetic: seeds per cell, the sweep's validation runs, reuse by key."""

from __future__ import annotations

from genzoo_metrics import report_plan as plan

PRESETS = {"paper": {"lr": 1e-4}, "ablation-critic5": {"critic_steps": 5}, "ablation-mean-l1": {"rec_weight": 10}}


def test_every_cell_has_one_run_per_seed_with_distinct_folders() -> None:
    seeds = (0, 1, 2)
    paper = plan.paper_runs("gvae", PRESETS, seeds)
    tuned = plan.tuned_runs("gvae", 3e-4, seeds)
    assert [r.seed for r in paper] == [0, 1, 2] and [r.seed for r in tuned] == [0, 1, 2]
    assert all(r.preset == "paper" for r in paper) and all(r.preset is None for r in tuned)
    assert all(r.override_dict() == {"train.lr": 3e-4} for r in tuned)
    keys = [r.key for r in paper + tuned]
    assert len(set(keys)) == len(keys)


def test_a_model_without_a_paper_preset_uses_its_defaults() -> None:
    runs = plan.paper_runs("vae", {}, (0,))
    assert runs[0].preset is None and runs[0].key == "vae-default-s0"


def test_sweep_trains_without_the_validation_images_and_picks_the_lowest_fid() -> None:
    runs = plan.sweep_runs(["gvae", "vae"], (1e-4, 1e-3), holdout=500)
    assert len(runs) == 6 and all(r.holdout == 500 and r.seed == 0 for r in runs)
    # each model's own lrs (its players' ratios kept) compete with the shared grid
    assert {r.override_dict().get("train.lr", plan.OWN_LR) for r in runs} == {plan.OWN_LR, 1e-4, 1e-3}
    assert plan.best_lr({plan.OWN_LR: 5.0, 1e-4: 7.0}) == plan.OWN_LR
    assert plan.best_lr({1e-4: 12.0, 3e-4: 7.5, 1e-3: float("nan")}) == 3e-4
    assert plan.best_lr({1e-4: float("nan")}) is None


def test_latent_sweep_and_ablations_are_distinct_runs_at_the_tuned_lr() -> None:
    sizes = [plan.tuned_runs("gvae", 3e-4, (0,), {"latent_dim": z})[0] for z in (100, 1000)]
    assert sizes[0].key != sizes[1].key
    assert sizes[1].override_dict() == {"train.lr": 3e-4, "latent_dim": 1000}
    rows = plan.ablation_runs("gvae", PRESETS, 3e-4, (0, 1))
    assert sorted(rows) == ["critic5", "mean-l1"]
    assert all(r.preset == "ablation-critic5" and r.override_dict() == {"train.lr": 3e-4} for r in rows["critic5"])
    assert len({r.key for rs in rows.values() for r in rs}) == 4
