"""`genzoo report` end to end on tiny models: every part of the protocol, its arithmetic and reuse."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from genzoo_metrics.report_stats import interval

VERDICTS = {"held", "not held", "inconclusive", "not testable here"}


@pytest.mark.slow
def test_report_runs_the_whole_protocol_and_reuses_runs(tmp_path, metrics_registry) -> None:
    from genzoo.cli import build_app

    out = tmp_path / "report"
    args = [
        "report", "--models", "tiny-gen28,tiny-vae28", "--steps", "3", "--batch-size", "8", "--seeds", "0,1",
        "--lrs", "1e-3,1e-2", "--holdout", "50", "-n", "60", "--pairs", "20", "--curve-points", "2",
        "--curve-n", "30", "--eval-seeds", "2", "--sweep-model", "tiny-vae28", "--latent-sizes", "2,4",
        "--likelihood-models", "tiny-vae28", "--iwae-k", "4", "--iwae-images", "10", "--device", "cpu",
        "--out", str(out),
    ]  # fmt: skip
    app = build_app(metrics_registry.host)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    page = (out / "report.md").read_text()
    for section in ("## Budgets", "## Learning-rate sweep", "## Table 3", "## Evaluation noise", "## Table 4",
                    "## Ablations", "## Table 5", "## The paper's claims"):  # fmt: skip
        assert section in page, section
    # the regenerate line carries every flag, so it reproduces these tables
    for flag in ("--seeds 0,1", "--lrs '0.001,0.01'", "--holdout 50", "--iwae-images 10", "--latent-sizes '2,4'"):
        assert flag in page, flag
    results = json.loads((out / "results.json").read_text())
    assert f"Code: {results['code']}." in page and results["code"].startswith("genzoo ")
    table3 = results["table3"]
    assert {"real data", "tiny-vae28 (paper)", "tiny-vae28 (tuned)", "tiny-gen28 (tuned)"} <= set(table3)
    tuned = table3["tiny-vae28 (tuned)"]
    best = results["sweep"]["best_lr"]["tiny-vae28"]
    setting = "tuned" if best is None else f"tuned-lr{best:g}"
    assert len(tuned["per_seed"]) == 2 and tuned["runs"] == [f"tiny-vae28-{setting}-s{s}" for s in (0, 1)]
    # each figure is the mean and 95 % t-interval of the per-seed values
    fids = [row["fid"] for row in tuned["per_seed"]]
    expected = interval(fids)
    assert tuned["metrics"]["fid"]["mean"] == pytest.approx(expected.mean)
    assert tuned["metrics"]["fid"]["ci95"] == pytest.approx(expected.half)
    # budgets in iterations and images seen (tiny-vae28 has one player with one batch per step)
    assert tuned["steps"]["mean"] == 3 and tuned["images_seen"]["mean"] == 3 * 8
    # the paper row uses the preset (latent 2): a different run from the tuned one
    assert table3["tiny-vae28 (paper)"]["runs"][0] == "tiny-vae28-paper-s0"
    paper_config = json.loads((out / "runs" / "tiny-vae28-paper-s0" / "config.json").read_text())
    assert paper_config["preset"] == "paper" and paper_config["model_config"]["latent_dim"] == 2
    # ... and the report says what the two rows set differently, resolved (the preset's latent 2 against 4)
    differences = results["row_settings"]["tiny-vae28"]
    assert differences["model_config.latent_dim"] == [2, 4]
    assert all(a != b for a, b in differences.values()) and "preset" not in differences
    assert "| tiny-vae28 | `model_config.latent_dim` | 2 |" in page
    # the sweep trained without the validation images and picked one of the grid
    assert best in (None, 1e-3, 1e-2) and set(results["sweep"]["validation_fid"]["tiny-vae28"]) == {"own", "0.001", "0.01"}
    sweep_config = json.loads((out / "runs" / "tiny-vae28-val-lr0.001-s0" / "config.json").read_text())
    assert sweep_config["train"]["holdout"] == 50 and sweep_config["train"]["lr"] == 1e-3
    assert len(results["curves"]["tiny-vae28"]) == 2  # two intermediate checkpoints
    assert results["eval_noise"]["tiny-vae28"]["metrics"]["fid"]["n"] == 2
    assert set(results["table4"]) == {"2", "4"} and "wide" in results["ablation"]
    assert results["table5"]["tiny-vae28"]["metrics"]["elbo"]["mean"] < 0
    assert len(results["claims"]) == 5 and {c["verdict"] for c in results["claims"]} <= VERDICTS
    for name in ("samples.png", "loss_curves.png", "metric_curves.png", "sweep_samples.png"):
        assert (out / name).stat().st_size > 1000, name
    # a rerun trains nothing: every run is reused
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "training tiny-" not in again.output and "training tiny-" in result.output
    assert json.loads((out / "results.json").read_text())["table3"]["tiny-vae28 (tuned)"]["per_seed"] == tuned["per_seed"]
    # a run written before a train setting existed reads it at its default, so it is still reused
    run_config_path = out / "runs" / tuned["runs"][0] / "config.json"
    run_config = json.loads(run_config_path.read_text())
    del run_config["train"]["lr_decay"]
    run_config_path.write_text(json.dumps(run_config))
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and "training tiny-" not in again.output, again.output
    # ... but never a run trained under other settings: that is one clear line
    other = CliRunner().invoke(app, [*args[:-2], "--batch-size", "4", "--out", str(out)])
    assert other.exit_code == 1 and "was trained with other settings" in other.output
    # that includes a model default changed since (the run's config.json holds the resolved one)
    run_config["model_config"]["latent_dim"] += 1
    run_config_path.write_text(json.dumps(run_config))
    stale = CliRunner().invoke(app, args)
    assert stale.exit_code == 1 and "was trained with other settings" in stale.output
    # a config.json no plugin can build any more is one line naming the folder
    run_config["model_config"]["no_such_field"] = 1
    run_config_path.write_text(json.dumps(run_config))
    broken = CliRunner().invoke(app, args)
    assert broken.exit_code == 1 and "cannot be reused" in broken.output and tuned["runs"][0] in broken.output


def test_report_refuses_settings_that_make_no_sense(tmp_path, metrics_registry) -> None:
    from genzoo.cli import build_app

    app = build_app(metrics_registry.host)
    result = CliRunner().invoke(app, ["report", "--seeds", "0,0", "--out", str(tmp_path / "r")])
    assert result.exit_code == 1 and "--seeds must be distinct" in result.output
    result = CliRunner().invoke(app, ["report", "--lrs", "0,1e-3", "--out", str(tmp_path / "r")])
    assert result.exit_code == 1 and "positive learning rates" in result.output


def test_report_names_the_code_it_ran(monkeypatch) -> None:
    """The regenerate line reproduces a table only with the same code, so the report names its commit."""
    import shutil
    import subprocess
    from pathlib import Path

    import genzoo
    from genzoo_metrics.report import code_description

    here = Path(genzoo.__file__).resolve().parent
    text = code_description()
    assert text.startswith(f"genzoo {genzoo.__version__}")
    if shutil.which("git") and subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"],
                                              capture_output=True).returncode == 0:  # fmt: skip
        head = subprocess.run(["git", "-C", str(here), "rev-parse", "--short=12", "HEAD"],
                              capture_output=True, text=True).stdout.strip()  # fmt: skip
        assert f"commit {head}" in text

    def no_git(*args, **kwargs):
        raise FileNotFoundError("git")

    monkeypatch.setattr(subprocess, "run", no_git)
    assert code_description() == f"genzoo {genzoo.__version__} (commit unknown: not run from a git checkout)"


def test_an_interrupt_stops_the_report_and_a_rerun_resumes_that_run(tmp_path, metrics_registry, monkeypatch) -> None:
    import os
    import signal

    import genzoo.trainer as trainer_module
    from genzoo.trainer import Interrupted
    from genzoo_metrics import report_plan as plan
    from genzoo_metrics.report import INTERRUPTIONS, ReportBuilder, ReportSettings
    from genzoo_metrics.report_markdown import _budget_lines

    settings = ReportSettings(out=tmp_path / "report", models=("tiny-vae28",), steps=30, batch_size=8, seeds=(0,),
                              sweep_lrs=(), n=20, curve_points=2, eval_seeds=0, latent_sizes=(), ablations=False,
                              likelihood_models=(), sweep_model="tiny-vae28")  # fmt: skip
    logs: list[str] = []
    builder = ReportBuilder(settings, registry=metrics_registry, log=logs.append)
    builder._load_data()
    run = plan.tuned_runs("tiny-vae28", None, settings.seeds)[0]
    train = trainer_module.train

    def sigterm_at(step):  # as a batch scheduler would send it
        def interrupted(config, run_dir, registry=None, progress=False):
            def on_log(record):
                if record["step"] == step:
                    os.kill(os.getpid(), signal.SIGTERM)

            return trainer_module.Trainer(config, run_dir, registry=registry, progress=progress).fit(on_log=on_log)

        return interrupted

    for step in (10, 20):  # twice, the second time between the curve's checkpoints at 15 and 30
        monkeypatch.setattr(trainer_module, "train", sigterm_at(step))
        with pytest.raises(Interrupted, match=rf"^SIGTERM received: stopped at step {step} of .* rerun the same genzoo"):
            builder.train(run, curve_points=2)  # not "scored as missing" while the report goes on to the next run
    monkeypatch.setattr(trainer_module, "train", train)
    before = json.loads((builder.out / "runs" / run.key / INTERRUPTIONS).read_text())
    assert before["stopped_at"] == [10, 20] and before["seconds"] > 0
    assert builder.train(run, curve_points=2) is not None
    assert logs[-1] == f"training {run.key} (30 steps, resuming from step 20)"
    record = builder.results["runs"][run.key]
    assert record["steps"] == 30 and record["interrupted_at"] == [10, 20]
    assert record["seconds"] >= round(before["seconds"], 1)  # the interrupted parts count
    # the curve has the checkpoints an uninterrupted run has: the interrupts' own are gone
    assert record["checkpoints"] == ["step-00000015", "step-00000030"]
    assert sorted(p.name for p in (builder.out / "runs" / run.key / "checkpoints").iterdir()) == record["checkpoints"]
    assert not (builder.out / "runs" / run.key / INTERRUPTIONS).exists()
    lines = _budget_lines({"runs": builder.results["runs"]})
    assert lines[-1].endswith(f"{run.key} (at step 10, 20).") and not record["seconds_partial"]

    # a hard kill (SIGKILL, out of memory) leaves a checkpoint and no note: the rerun still says so
    again = plan.tuned_runs("tiny-vae28", None, (1,))[0]
    monkeypatch.setattr(trainer_module, "train", sigterm_at(10))
    with pytest.raises(Interrupted):
        builder.train(again)
    (builder.out / "runs" / again.key / INTERRUPTIONS).unlink()  # as if nothing had run after the kill
    monkeypatch.setattr(trainer_module, "train", train)
    builder.train(again)
    record = builder.results["runs"][again.key]
    assert record["interrupted_at"] == [10] and record["seconds_partial"]
    assert _budget_lines({"runs": builder.results["runs"]})[-1].endswith(f"{again.key} (at step 10)*.")


def test_a_run_folder_another_process_is_training_stops_the_report(tmp_path, metrics_registry) -> None:
    pytest.importorskip("fcntl")
    from genzoo.errors import RunFolderBusy
    from genzoo.runlock import RunFolderLock
    from genzoo_metrics import report_plan as plan
    from genzoo_metrics.report import ReportBuilder, ReportSettings

    settings = ReportSettings(out=tmp_path / "report", models=("tiny-vae28",), steps=3, batch_size=8, seeds=(0,),
                              sweep_lrs=(), n=20, curve_points=0, eval_seeds=0, latent_sizes=(), ablations=False,
                              likelihood_models=(), sweep_model="tiny-vae28")  # fmt: skip
    builder = ReportBuilder(settings, registry=metrics_registry, log=lambda text: None)
    builder._load_data()
    run = plan.tuned_runs("tiny-vae28", None, settings.seeds)[0]
    holder = RunFolderLock(settings.out / "runs" / run.key)  # a second report on the same --out, say
    holder.acquire()
    try:
        with pytest.raises(RunFolderBusy, match="is being trained by process"):
            builder.train(run)  # not scored as a failed run while the report races the other one
    finally:
        holder.release()
