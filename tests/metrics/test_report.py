"""`genzoo report` end to end on tiny models: trains, scores and writes every table and figure."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner


@pytest.mark.slow
def test_report_writes_tables_figures_and_reuses_runs(tmp_path, metrics_registry) -> None:
    from genzoo.cli import build_app

    out = tmp_path / "report"
    args = [
        "report",
        "--models",
        "tiny-gen28,tiny-vae28",
        "--steps",
        "3",
        "--batch-size",
        "8",
        "-n",
        "60",
        "--pairs",
        "20",
        "--sweep-model",
        "tiny-vae28",
        "--latent-sizes",
        "2,4",
        "--likelihood-models",
        "tiny-vae28",
        "--iwae-k",
        "4",
        "--iwae-images",
        "10",
        "--out",
        str(out),
    ]
    app = build_app(metrics_registry.host)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    page = (out / "report.md").read_text()
    assert "## Table 3" in page and "## Table 4" in page and "## Table 5" in page
    assert "| tiny-gen28 |" in page and "| real data |" in page and "| 4 |" in page
    for name in ("samples.png", "sweep_samples.png", "loss_curves.png", "results.json"):
        assert (out / name).stat().st_size > 1000, name
    results = json.loads((out / "results.json").read_text())
    gen = results["table3"]["tiny-gen28"]
    real = results["table3"]["real data"]
    assert gen["fid"]["status"] == "ok" and gen["fid"]["value"] > real["fid"]["value"]
    # The real-data row compares the same two sets as the FID floor, with the same N.
    assert real["fid"]["value"] == pytest.approx(gen["fid"]["values"]["fid.floor"], rel=1e-9)
    assert results["table5"]["tiny-vae28"]["elbo"]["value"] < 0
    assert (out / "runs" / "tiny-gen28" / "model.safetensors").is_file()
    assert (out / "runs" / "tiny-vae28-z2" / "model.safetensors").is_file()
    # Latent size 4 is tiny-vae28's default: Table 4 reuses the Table 3 run instead of training it again.
    assert not (out / "runs" / "tiny-vae28-z4").exists()
    assert results["table4"]["4"]["fid"]["value"] == results["table3"]["tiny-vae28"]["fid"]["value"]
    (out / "report.md").rename(tmp_path / "first.md")
    # A rerun reuses the finished runs, and a given checkpoint replaces training.
    given = out / "runs" / "tiny-gen28" / "model.safetensors"
    again = CliRunner().invoke(app, [*args, "--checkpoint", f"tiny-gen28={given}", "--latent-sizes", ""])
    assert again.exit_code == 0, again.output
    assert "training tiny-vae28" in again.output and "training tiny-gen28" not in again.output
    assert json.loads((out / "results.json").read_text())["table4"] == {}
