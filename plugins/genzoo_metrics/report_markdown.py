"""The Markdown page of ``genzoo report``: budgets, the lr sweep, Tables 3-5, ablations, claims, figures."""

from __future__ import annotations

import json
import math
from typing import Any

# (result key, column title, scale) of the sample-quality tables
QUALITY_COLUMNS = (
    ("fid", "FID ↓", 1.0),
    ("kid", "KID ×10³ ↓", 1e3),
    ("mmd", "MMD² ↓", 1.0),
    ("mmd-linear", "Kwon MMD ↓", 1.0),
    ("ms-ssim", "MS-SSIM", 1.0),
    ("precision-recall.precision", "precision ↑", 1.0),
    ("precision-recall.recall", "recall ↑", 1.0),
    ("class-coverage", "recognisable ↑", 1.0),
    ("class-coverage.classes", "classes ≥ 4 %", 1.0),
    ("class-coverage.kl", "KL(p̂ ‖ U) ↓", 1.0),
    ("sharpness", "sharpness", 1.0),
)
LIKELIHOOD_COLUMNS = (
    ("log-likelihood", "log-likelihood (IWAE) ↑", 1.0),
    ("recon-error", "reconstruction error ↓", 1.0),
    ("elbo", "ELBO ↑", 1.0),
    ("kl", "KL", 1.0),
)


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.2e}"
    return f"{value:.{digits}g}"


def cell_text(entry: dict[str, Any] | None, scale: float = 1.0) -> str:
    """``mean ± ci95`` of a results.json interval (``mean`` alone for one seed)."""
    if not entry or entry.get("mean") is None:
        return "n/a"
    text = fmt(entry["mean"] * scale)
    return f"{text} ± {fmt(entry['ci95'] * scale, 2)}" if entry.get("ci95") is not None else text


def _table(first: list[str], columns: tuple, rows: dict[str, dict[str, Any]]) -> list[str]:
    header = "| " + " | ".join([*first, *(title for _, title, _ in columns)]) + " |"
    lines = [header, "|" + "---|" * len(first) + "---:|" * len(columns)]
    for label, cell in rows.items():
        if not cell:
            continue
        metrics = cell.get("metrics", {})
        labels = label.split(" | ")
        lines.append("| " + " | ".join([*labels, *(cell_text(metrics.get(k), s) for k, _, s in columns)]) + " |")
    return lines


def regenerate_command(s: dict[str, Any]) -> str:
    """The ``genzoo report`` command line that reproduces every table (all flags spelled out)."""
    join = lambda values: ",".join(str(v) for v in values)  # noqa: E731
    parts = [
        "genzoo report",
        f"--models {join(s['models'])}",
        f"--dataset {s['dataset']}",
        *( [f"--data-dir {s['data_dir']}"] if s.get("data_dir") else [] ),
        *( [f"--test-dataset {s['test_dataset']}"] if s.get("test_dataset") else [] ),
        *( [f"--test-data-dir {s['test_data_dir']}"] if s.get("test_data_dir") else [] ),
        *( ["--quick"] if s.get("quick") else [] ),
        f"--steps {s['steps']}" if s.get("steps") else "",
        f"--batch-size {s['batch_size']}",
        f"--seeds {join(s['seeds'])}",
        f"--lrs '{join(s['sweep_lrs'])}'",
        f"--holdout {s['holdout']}",
        f"-n {s['n']}",
        f"--pairs {s['pairs']}",
        f"--curve-points {s['curve_points']}",
        f"--curve-n {s['curve_n']}",
        f"--eval-seeds {s['eval_seeds']}",
        f"--sweep-model {s['sweep_model']}",
        f"--latent-sizes '{join(s['latent_sizes'])}'",
        "--ablations" if s.get("ablations") else "--no-ablations",
        f"--likelihood-models '{join(s['likelihood_models'])}'",
        f"--iwae-k {s['iwae_k']}",
        f"--iwae-images {s['iwae_images']}",
        f"--device {s['device']}",
        f"--out {s['out']}",
    ]  # fmt: skip
    return " ".join(p for p in parts if p)


def _budget_lines(results: dict[str, Any]) -> list[str]:
    lines = [
        "| run cell | iterations | images seen | wall time per run (s) |",
        "|---|---:|---:|---:|",
    ]
    for table in ("table3", "table4", "ablation"):
        for label, cell in (results.get(table) or {}).items():
            if cell and "steps" in cell:
                prefix = {"table3": "", "table4": "latent ", "ablation": "ablation "}[table]
                lines.append(
                    f"| {prefix}{label} | {cell_text(cell['steps'])} | {cell_text(cell['images_seen'])} | "
                    f"{cell_text(cell['seconds'])} |"
                )
    runs = results.get("runs") or {}
    stops = {key: r["interrupted_at"] for key, r in runs.items() if r.get("interrupted_at")}
    if stops:
        lines += ["", "Interrupted and resumed (bit-exact; their wall time sums the parts, except a part a hard kill "
                  "ended: marked *): " + ", ".join(f"{key} (at step {', '.join(map(str, at))})"
                  + ("*" if runs[key].get("seconds_partial") else "") for key, at in sorted(stops.items())) + "."]
    return lines


def render_markdown(results: dict[str, Any]) -> str:
    s = results["settings"]
    data = results.get("data", {})
    seeds = len(s["seeds"])
    lines = [
        f"# genzoo report: {s['dataset']}" + (" (quick profile: a smoke check, not evidence)" if s.get("quick") else ""),
        "",
        f"Regenerate with:\n\n```bash\n{regenerate_command(s)}\n```",
        "",
        f"Trained on {data.get('train', s['dataset'])}; scored on {data.get('test', '?')} against as many samples "
        f"per run, with the same evaluation seed for every run. Every figure is the mean over {seeds} training "
        f"seeds ± the half-width of its 95 % Student-t confidence interval over those seeds (one seed: no "
        f"interval). Code: {results.get('code', 'not recorded')}. Machine: {results.get('machine', '?')}; "
        f"this invocation took {results.get('seconds', '?')} s "
        "(runs it reused were trained earlier; their own times are in the budget table).",
        "",
        "## Budgets",
        "",
        "Players take different numbers of batches per iteration, so the budget is stated three ways.",
        "",
        *_budget_lines(results),
    ]
    sweep = results.get("sweep")
    if sweep:
        lrs = ["own"] + [f"{lr:g}" for lr in s["sweep_lrs"]]
        lines += [
            "",
            "## Learning-rate sweep",
            "",
            f"Each model at its own learning rates (\"own\": its players' lrs and their ratios) and at one shared grid "
            f"(every player's lr set by `train.lr`), seed {s['seeds'][0]}, each model "
            f"trained without {data.get('validation', 'a validation split')} and scored by FID on them (never on the "
            "evaluation split). The best lr is the tuned row of Table 3, retrained on the whole training split.",
            "",
            "| model | " + " | ".join(f"lr {lr}" for lr in lrs) + " | best |",
            "|---|" + "---:|" * (len(lrs) + 1),
        ]
        for model, fids in sweep["validation_fid"].items():
            best = sweep["best_lr"].get(model)
            best_text = "own" if best is None else fmt(best)
            lines.append(f"| {model} | " + " | ".join(fmt(fids.get(lr)) for lr in lrs) + f" | {best_text} |")
    lines += [
        "",
        "## Table 3: sample quality, diversity and coverage",
        "",
        "paper = the model's paper settings (its `paper` preset); tuned = genzoo's defaults, "
        + ("with every player at the sweep's best shared lr where that beat the model's own lrs on validation. "
           if sweep else "at the models' own lrs (no lr sweep was run: `--lrs ''`). ")
        + "Each model trains for its own default budget unless --steps is given (see Budgets): equal iterations are not equal images seen. "
        "The real-data row scores training images against the evaluation split with the same N: what a perfect "
        "model reaches. MS-SSIM is read against that row (far above: mode collapse; far below: noise). FID and KID "
        "use the shipped LeNet features (not comparable with Inception FID); recognisable = share of samples the "
        "LeNet classifies with confidence ≥ 0.9.",
        "",
        *_table(["model"], QUALITY_COLUMNS, results.get("table3", {})),
    ]
    differences = {m: d for m, d in (results.get("row_settings") or {}).items() if d}
    if differences:
        lines += ["", "### What the paper and tuned rows set differently", "",
                  "Every resolved setting (training and sampling) in which a model's two rows differ.", "",
                  "| model | setting | paper | tuned |", "|---|---|---|---|"]
        for model, settings in differences.items():
            lines += [f"| {model} | `{key}` | {json.dumps(pair[0])} | {json.dumps(pair[1])} |"
                      for key, pair in settings.items()]
    noise = results.get("eval_noise") or {}
    if noise:
        lines += [
            "",
            "## Evaluation noise",
            "",
            f"One checkpoint per model (seed {s['seeds'][0]}, tuned) scored under {s['eval_seeds']} other evaluation "
            "seeds (other generated samples, MS-SSIM pairs and KID subsets; the same real images): the spread that "
            "comes from evaluating, not from training. "
            "Figures are mean ± 95 % interval over evaluation seeds.",
            "",
            *_table(["model"], QUALITY_COLUMNS, noise),
        ]
    if results.get("table4"):
        lines += ["", f"## Table 4: {s['sweep_model']} latent size (tuned)", ""]
        lines += _table(["latent size"], QUALITY_COLUMNS, results["table4"])
    if results.get("ablation"):
        lines += [
            "",
            f"## Ablations of {s['sweep_model']} (its `ablation-*` presets, tuned lr)",
            "",
            *_table(["variant"], QUALITY_COLUMNS, results["ablation"]),
            "",
        ]
        lines += [f"- {name}: `{cell.get('overrides')}`" for name, cell in results["ablation"].items()
                  if cell and cell.get("overrides")]  # fmt: skip
    if results.get("table5"):
        lines += [
            "",
            "## Table 5: likelihood (nats per image, tuned runs)",
            "",
            f"IWAE with k = {s['iwae_k']} on {s['iwae_images']} evaluation images, dynamically binarised, each model's "
            "own decoder likelihood (all first-party models: Bernoulli on (x+1)/2).",
            "",
            *_table(["model"], LIKELIHOOD_COLUMNS, results["table5"]),
        ]
    claims = results.get("claims") or []
    if claims:
        lines += ["", "## The paper's claims", "", "| claim | verdict | evidence (mean ± 95 % CI over seeds) |",
                  "|---|---|---|"]  # fmt: skip
        lines += [f"| {c['claim']} | **{c['verdict']}** | {c['evidence']} |" for c in claims]
        lines += ["", "Verdicts use Welch's 95 % interval of the difference of per-seed means: held when it excludes "
                  "no difference on the claimed side, not held on the other, inconclusive when it contains 0."]
    figures = results.get("figures", {})
    if figures:
        lines += ["", "## Figures", ""]
        titles = {"samples": "Samples side by side (seed 0, tuned)", "sweep_samples": "Latent-size sweep samples",
                  "loss_curves": "Loss curves (seed 0, tuned)", "metric_curves": "FID, precision and recall against "
                  "the step (mean and 95 % band over seeds)"}  # fmt: skip
        for key, name in figures.items():
            lines += [f"### {titles.get(key, key)}", "", f"![{key}]({name})", ""]
    return "\n".join(lines).rstrip() + "\n"

