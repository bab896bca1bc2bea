"""The Markdown page of ``genzoo report`` (tables 3-5, figures, settings, caveats)."""

from __future__ import annotations

import math
from typing import Any

from genzoo_metrics.report import value_of


def fmt(value: float, digits: int = 4) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
        return f"{value:.2e}"
    return f"{value:.{digits}g}"


def with_spread(value: float, spread: float, scale: float = 1.0) -> str:
    if not math.isfinite(value):
        return "n/a"
    text = fmt(value * scale)
    return f"{text} ± {fmt(spread * scale, 2)}" if math.isfinite(spread) else text


def _distribution_row(label: str, row: dict[str, Any]) -> str:
    cells = [
        label,
        fmt(value_of(row, "mmd")),
        with_spread(value_of(row, "mmd-linear"), value_of(row, "mmd-linear", "mmd-linear.std")),
        with_spread(value_of(row, "ms-ssim"), value_of(row, "ms-ssim", "ms-ssim.std")),
        fmt(value_of(row, "fid")),
        with_spread(value_of(row, "kid"), value_of(row, "kid", "kid.std"), 1e3),
    ]
    return "| " + " | ".join(cells) + " |"


DISTRIBUTION_HEADER = (
    "| {first} | MMD² (Gaussian, pixels) ↓ | Kwon linear MMD ↓ | MS-SSIM (real pairs: {real}) | FID ↓ | KID ×10³ ↓ |\n"
    "|---|---:|---:|---:|---:|---:|"
)


def _real_ms_ssim(table: dict[str, Any]) -> str:
    for row in table.values():
        value = value_of(row, "ms-ssim", "ms-ssim.real")
        if math.isfinite(value):
            return fmt(value)
    return "n/a"


def render_markdown(results: dict[str, Any]) -> str:
    s = results["settings"]
    table3, table4, table5 = results["table3"], results["table4"], results["table5"]
    command = (
        f"genzoo report --models {','.join(s['models'])} --dataset {s['dataset']} --steps {s['steps']} "
        f"--batch-size {s['batch_size']} --seed {s['seed']} -n {s['n']} --iwae-k {s['iwae_k']} "
        f"--latent-sizes {','.join(map(str, s['latent_sizes']))} --out {s['out']}"
    )
    lines = [
        f"# genzoo report: {s['dataset']}",
        "",
        f"Regenerate with `{command}`.",
        "",
        f"Every model: same seed ({s['seed']}), same data ({s['dataset']}), same budget ({s['steps']} steps of "
        f"batch {s['batch_size']}), scored on the same {results.get('n_real', s['n'])} held-out images and as many "
        "samples, "
        f"the same {s['pairs']} MS-SSIM pairs and the same KID subsets. Machine: {results.get('machine', '?')}; "
        f"this invocation took {results.get('seconds', '?')} s (runs it reused were trained earlier).",
        "",
        "## Table 3: sample quality and diversity",
        "",
        DISTRIBUTION_HEADER.format(first="model", real=_real_ms_ssim(table3)),
    ]
    lines += [_distribution_row(name, row) for name, row in table3.items()]
    floor = next(
        (value_of(r, "fid", "fid.floor") for r in table3.values() if math.isfinite(value_of(r, "fid", "fid.floor"))),
        math.nan,
    )
    lines += [
        "",
        '"real data" scores training images against the held-out split with the same N: the floor a perfect '
        f"model would reach (FID floor {fmt(floor)}). MS-SSIM is read against the real-pair value: far above it "
        "means mode collapse, far below it means noise. MMD² is unbiased (can be slightly negative); KID is "
        "mean ± std over subsets; Kwon's linear MMD is mean ± std over passes. FID/KID use the shipped LeNet "
        "features, so they are not comparable with Inception-FID in the literature, and none of these numbers "
        "is comparable with the paper's MMD ×1e-4 column, whose recipe is not published (see METRICS.md).",
    ]
    if table4:
        lines += [
            "",
            f"## Table 4: {s['sweep_model']} latent size",
            "",
            DISTRIBUTION_HEADER.format(first="latent size", real=_real_ms_ssim(table4)),
        ]
        lines += [_distribution_row(size, row) for size, row in table4.items()]
    if table5:
        lines += [
            "",
            "## Table 5: VAE against GVAE (nats per image)",
            "",
            "| model | log-likelihood (IWAE) ↑ | reconstruction error ↓ | ELBO ↑ | KL |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, row in table5.items():
            cells = [name] + [
                with_spread(value_of(row, m), value_of(row, m, m + ".sem"))
                for m in ("log-likelihood", "recon-error", "elbo", "kl")
            ]
            lines.append("| " + " | ".join(cells) + " |")
        lines += [
            "",
            "± is the standard error over images. Each model's own decoder likelihood is used, so compare "
            "models with the same observation model only. Settings:",
            "",
        ]
        lines += [f"- {name}: {row.get('_notes', {}).get('likelihood', 'n/a')}" for name, row in table5.items()]
    figures = results.get("figures", {})
    if figures:
        lines += ["", "## Figures", ""]
        titles = {
            "samples": "Samples side by side",
            "sweep_samples": "Latent-size sweep samples",
            "loss_curves": "Loss curves",
        }
        for key, name in figures.items():
            lines += [f"### {titles.get(key, key)}", "", f"![{key}]({name})", ""]
    return "\n".join(lines).rstrip() + "\n"
