"""The evaluation runner and `genzoo eval` on tiny checkpoints against the embedded mnist5k test split."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from genzoo.evaluation import EvalContext, dataset_images, evaluate, evaluate_checkpoint


def test_context_shares_samples_and_seeds_streams(metrics_registry) -> None:
    model = metrics_registry.build_model("tiny-gen28", None, (1, 28, 28))
    real = torch.rand(10, 1, 28, 28) * 2 - 1
    a = EvalContext(model, real, n_generated=7, seed=3)
    first = a.generated
    assert first.shape == (7, 1, 28, 28) and a.generated is first
    assert float(first.abs().max()) <= 1.0
    b = EvalContext(model, real, n_generated=7, seed=3)
    assert torch.equal(b.generated, first)
    assert a.generator("x").initial_seed() == b.generator("x").initial_seed() != a.generator("y").initial_seed()


def test_gan_gets_n_a_for_likelihood_and_values_for_the_rest(metrics_registry) -> None:
    model = metrics_registry.build_model("tiny-gen28", None, (1, 28, 28))
    spec = metrics_registry.get("dataset", "mnist5k")
    real, _ = dataset_images(metrics_registry.build_dataset("mnist5k", None, spec.eval_split), 120, seed=0)
    reference, _ = dataset_images(metrics_registry.build_dataset("mnist5k", None, "train"), 120, seed=1)
    context = EvalContext(model, real, reference=reference, dataset="mnist5k", seed=0)
    configs = {"ms-ssim": {"pairs": 50}, "kid": {"subsets": 5, "subset_size": 50}, "mmd-linear": {"repeats": 3}}
    names = ["mmd", "mmd-linear", "ms-ssim", "fid", "kid", "elbo", "log-likelihood"]
    results = {r.name: r for r in evaluate(context, names, configs, metrics_registry)}
    assert results["elbo"].status == "n/a" and "encoder" in results["elbo"].reason
    assert results["log-likelihood"].status == "n/a"
    for name in ("mmd", "mmd-linear", "ms-ssim", "fid", "kid"):
        assert results[name].status == "ok", results[name].reason
    # An untrained generator is far from real digits; real-vs-real (train vs test digits) is close.
    assert results["fid"].value > 5 * results["fid"].values["fid.floor"]
    assert results["mmd"].value > 0.05
    assert 0 < results["ms-ssim"].values["ms-ssim.real"] < 1


def test_evaluate_checkpoint_of_a_vae_scores_the_likelihood_family(tiny_checkpoint, metrics_registry) -> None:
    path = tiny_checkpoint("tiny-vae28")
    configs = {
        name: {"samples": 4, "max_images": 20, "batch_size": 10}
        for name in ("elbo", "kl", "recon-error", "log-likelihood")
    }
    report = evaluate_checkpoint(
        path, ["elbo", "kl", "recon-error", "log-likelihood"], n=40, configs=configs, registry=metrics_registry
    )
    values = {r.name: r.value for r in report.results}
    assert report.split == "test" and report.dataset == "mnist5k"
    assert values["elbo"] == pytest.approx(-values["recon-error"] - values["kl"], rel=1e-6)
    assert values["elbo"] <= values["log-likelihood"] < 0
    assert "Bernoulli" in report.notes["likelihood"]
    # Asking for more images than the eval split holds uses all of them, and as many samples.
    capped = evaluate_checkpoint(path, ["mmd"], n=10**6, registry=metrics_registry)
    split_size = len(metrics_registry.build_dataset("mnist5k", None, "test"))
    assert capped.n_real == capped.n_generated == split_size < 10**6


def test_cli_eval_prints_a_table_and_json(tiny_checkpoint, metrics_registry) -> None:
    from genzoo.cli import build_app

    path = tiny_checkpoint("tiny-gen28")
    app = build_app(metrics_registry.host)
    runner = CliRunner()
    args = ["eval", str(path), "-n", "60", "--metrics", "mmd,ms-ssim,kl", "--set", "ms-ssim.pairs=30"]
    table = runner.invoke(app, args)
    assert table.exit_code == 0, table.output
    assert "ms-ssim" in table.output and "n/a" in table.output and "mnist5k/test" in table.output
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    rows = {row["metric"]: row for row in data["results"]}
    assert rows["kl"]["status"] == "n/a" and rows["kl"]["value"] is None
    assert rows["mmd"]["value"] > 0 and "ms-ssim.real" in rows["ms-ssim"]["values"]
    assert data["n_generated"] == 60


def test_cli_eval_prints_the_issue_10_metrics_and_json_has_every_sub_value(tiny_checkpoint, metrics_registry):
    from genzoo.cli import build_app

    app = build_app(metrics_registry.host)
    names = "class-coverage,precision-recall,sharpness"
    args = ["eval", str(tiny_checkpoint("tiny-gen28")), "-n", "60", "--metrics", names]
    table = CliRunner().invoke(app, args)
    assert table.exit_code == 0, table.output
    for text in ("class-coverage", "share=[", "real.share=[", "precision=", "real.recall=", "sharpness", "vs real"):
        assert text in table.output, text
    result = CliRunner().invoke(app, [*args, "--json"])
    rows = {row["metric"]: row for row in json.loads(result.stdout)["results"]}
    assert all(row["status"] == "ok" for row in rows.values())
    coverage = rows["class-coverage"]["values"]
    for prefix in ("class-coverage", "class-coverage.real"):
        assert sum(coverage[f"{prefix}.share.{y}"] for y in range(10)) == pytest.approx(1.0)
        assert {prefix, f"{prefix}.classes", f"{prefix}.kl"} <= set(coverage)
    assert coverage["class-coverage.real"] >= 0.9  # real held-out digits; the untrained model is noise
    pr = rows["precision-recall"]["values"]
    keys = ("", ".precision", ".recall", ".real.precision", ".real.recall")
    assert set(pr) == {f"precision-recall{key}" for key in keys}
    assert rows["precision-recall"]["value"] == pr["precision-recall.recall"] < pr["precision-recall.real.recall"]
    sharp = rows["sharpness"]["values"]
    assert set(sharp) == {"sharpness", "sharpness.std", "sharpness.real", "sharpness.real.std"}
    assert rows["sharpness"]["higher_is_better"] is None and sharp["sharpness.real"] > 0


def test_cli_eval_unknown_metric_is_one_line(tiny_checkpoint, metrics_registry) -> None:
    from genzoo.cli import build_app

    path = tiny_checkpoint("tiny-gen28")
    result = CliRunner().invoke(build_app(metrics_registry.host), ["eval", str(path), "--metrics", "mdm"])
    assert result.exit_code != 0
    assert "unknown metric 'mdm'" in result.output and "mmd" in result.output
    assert "Traceback" not in result.output


def test_subsets_are_random_in_every_prefix(metrics_registry) -> None:
    # mnist5k's test split is ordered by class; a prefix of the subset must still mix classes.
    dataset = metrics_registry.build_dataset("mnist5k", None, "test")
    assert len(dataset.labels[:40].unique()) == 1
    _, labels = dataset_images(dataset, 100, seed=0)
    assert len(labels[:40].unique()) >= 6


@pytest.mark.parametrize(
    "metric, config, message",
    [
        ("kid", {"subsets": 0}, "KIDConfig: subsets must be at least 1, got 0"),
        ("ms-ssim", {"pairs": 0}, "MSSSIMConfig: pairs must be at least 1, got 0"),
        ("mmd", {"bandwidth_multipliers": [1.0, -2.0]}, "bandwidth_multipliers must be positive numbers"),
    ],
)
def test_nonsense_metric_configs_are_refused_before_any_work(metrics_registry, metric, config, message) -> None:
    from genzoo.errors import ConfigError

    model = metrics_registry.build_model("tiny-gen28", None, (1, 28, 28))
    context = EvalContext(model, torch.rand(6, 1, 28, 28) * 2 - 1, seed=0)
    with pytest.raises(ConfigError, match=message):
        evaluate(context, ["mmd", metric], {metric: config}, on_error="record")
    assert context._generated is None  # nothing was sampled


def test_an_empty_metric_list_is_an_error_and_all_means_all() -> None:
    from genzoo.errors import ConfigError
    from genzoo.evaluation import parse_metric_list

    with pytest.raises(ConfigError, match="--metrics is empty"):
        parse_metric_list("", ["mmd", "fid"])
    with pytest.raises(ConfigError, match="--metrics is empty"):
        parse_metric_list(" , ", ["mmd", "fid"])
    assert parse_metric_list(None, ["mmd", "fid"]) == parse_metric_list("all", ["mmd", "fid"]) == ["mmd", "fid"]


def test_fid_below_the_feature_dimension_carries_a_warning(metrics_registry) -> None:
    model = metrics_registry.build_model("tiny-gen28", None, (1, 28, 28))
    context = EvalContext(model, torch.rand(20, 1, 28, 28) * 2 - 1, seed=0, dataset="mnist5k")
    (result,) = evaluate(context, ["fid"], {"fid": {"floor": False}})
    assert result.status == "ok"
    assert "FID from N=20 samples, fewer than the" in context.notes["fid"] and "use -n" in context.notes["fid"]


def test_eval_of_a_run_writes_eval_json_and_runs_compares_it(tiny_checkpoint, metrics_registry, tmp_path) -> None:
    from genzoo.cli import build_app

    path = tiny_checkpoint("tiny-gen28")
    run = path.parent
    (run / "config.json").write_text(json.dumps({"model": "tiny-gen28", "dataset": "mnist5k", "train": {"steps": 10}}))
    (run / "metrics.jsonl").write_text(json.dumps({"step": 10, "time": 1.8e9, "images_per_s": 99.0, "g/loss": 0.5}) + "\n")
    app = build_app(metrics_registry.host)
    runner = CliRunner()
    result = runner.invoke(app, ["eval", str(path), "-n", "40", "--metrics", "mmd", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads((run / "eval.json").read_text()) == json.loads(result.stdout)
    listed = runner.invoke(app, ["runs", str(tmp_path), "--json"])
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.stdout)
    assert row["run"] == str(run) and row["model"] == "tiny-gen28" and (row["step"], row["steps"]) == (10, 10)
    assert row["losses"] == {"g/loss": 0.5} and row["finished"] is False
    assert row["eval"]["mmd"] == json.loads(result.stdout)["results"][0]["value"]
    table = runner.invoke(app, ["runs", str(tmp_path)])
    assert "tiny-gen28" in table.stdout and "10/10 (open)" in table.stdout and "g/loss=0.5" in table.stdout
    # a published or exported folder (no metrics.jsonl) is never written to
    (run / "eval.json").unlink()
    (run / "metrics.jsonl").unlink()
    assert runner.invoke(app, ["eval", str(path), "-n", "40", "--metrics", "mmd"]).exit_code == 0
    assert not (run / "eval.json").exists()
