"""genzoo's metrics against torchmetrics (and pytorch-msssim) on the same inputs, in one process.

Measures the median wall time of:
- MS-SSIM over 1,000 pairs: 28x28 digits (genzoo's small-image default; torchmetrics with the same
  3 scales, 11-tap window and reflect border) and 192x192 images (5 scales; genzoo's valid border
  against pytorch-msssim, its reflect border against torchmetrics);
- MMD² on 10,000 x 10,000: the KID polynomial kernel on 84-d features (genzoo's chunked estimator
  against torchmetrics' ``poly_mmd``, which builds the full matrices), and genzoo's Gaussian kernel
  on 784 pixels (no torchmetrics counterpart; time and the size of its largest block);
- FID on 10,000 vs 10,000 digits with the shipped LeNet features (feature extraction included on
  both sides; torchmetrics ``FrechetInceptionDistance(feature=LeNet)``).
Each pair of results is also checked for agreement.

    OMP_NUM_THREADS=1 python benchmarks/metrics_speed.py --repeats 3
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn


def median_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def digits(n: int, seed: int) -> torch.Tensor:
    """Real MNIST-like digits: mnist5k images, jittered so 10,000 distinct ones exist."""
    from genzoo.evaluation import dataset_images
    from genzoo.registry import get_registry

    images, _ = dataset_images(get_registry().build_dataset("mnist5k", None, "all"))
    g = torch.Generator().manual_seed(seed)
    picked = images[torch.randint(0, len(images), (n,), generator=g)]
    return (picked + 0.1 * torch.randn(picked.shape, generator=g)).clamp(-1, 1)


def bench_ms_ssim(repeats: int) -> list[tuple[str, float, float, float]]:
    import pytorch_msssim
    from torchmetrics.functional.image import multiscale_structural_similarity_index_measure as tm_ms_ssim

    from genzoo_metrics.msssim import ms_ssim, resolve_settings

    rows = []
    x = (digits(1000, 0) + 1) / 2
    y = (digits(1000, 1) + 1) / 2
    small = resolve_settings(
        (28, 28), scales=3, window=11, sigma=1.5, data_range=1.0, border="reflect", renormalise_weights=False
    )
    ours_t, ours = median_time(lambda: ms_ssim(x, y, small), repeats)
    theirs_t, theirs = median_time(
        lambda: tm_ms_ssim(
            x, y, data_range=1.0, reduction="none", normalize="relu", kernel_size=7, betas=(0.0448, 0.2856, 0.3001)
        ),
        repeats,
    )
    rows.append(("MS-SSIM, 1,000 pairs of 28x28 (3 scales)", ours_t, theirs_t, float((ours - theirs).abs().max())))
    default = resolve_settings((28, 28))
    default_t, _ = median_time(lambda: ms_ssim(x, y, default), repeats)
    rows.append(("MS-SSIM, 1,000 pairs of 28x28, genzoo default (7-tap, valid)", default_t, float("nan"), float("nan")))

    g = torch.Generator().manual_seed(2)
    big_x = nn.functional.avg_pool2d(torch.rand(1000, 1, 192, 192, generator=g), 5, 1, 2)
    big_y = (big_x + 0.2 * torch.randn(big_x.shape, generator=g)).clamp(0, 1)
    valid = resolve_settings((192, 192), data_range=1.0)
    ours_t, ours = median_time(
        lambda: torch.cat([ms_ssim(big_x[i : i + 250], big_y[i : i + 250], valid) for i in range(0, 1000, 250)]),
        repeats,
    )
    theirs_t, theirs = median_time(
        lambda: torch.cat(
            [
                pytorch_msssim.ms_ssim(big_x[i : i + 250], big_y[i : i + 250], data_range=1.0, size_average=False)
                for i in range(0, 1000, 250)
            ]
        ),
        repeats,
    )
    rows.append(
        ("MS-SSIM, 1,000 pairs of 192x192 vs pytorch-msssim", ours_t, theirs_t, float((ours - theirs).abs().max()))
    )
    reflect = resolve_settings((192, 192), data_range=1.0, border="reflect")
    ours_t, ours = median_time(
        lambda: torch.cat([ms_ssim(big_x[i : i + 250], big_y[i : i + 250], reflect) for i in range(0, 1000, 250)]),
        repeats,
    )
    theirs_t, theirs = median_time(
        lambda: torch.cat(
            [
                tm_ms_ssim(big_x[i : i + 250], big_y[i : i + 250], data_range=1.0, reduction="none", normalize="relu")
                for i in range(0, 1000, 250)
            ]
        ),
        repeats,
    )
    rows.append(
        ("MS-SSIM, 1,000 pairs of 192x192 vs torchmetrics", ours_t, theirs_t, float((ours - theirs).abs().max()))
    )
    return rows


def bench_mmd(repeats: int) -> list[tuple[str, float, float, float]]:
    from torchmetrics.image.kid import poly_mmd

    from genzoo_metrics.mmd import gaussian_kernel, median_bandwidth, mmd2_unbiased, polynomial_kernel

    g = torch.Generator().manual_seed(3)
    real = torch.randn(10_000, 84, generator=g).relu()
    fake = (torch.randn(10_000, 84, generator=g) * 1.1 + 0.05).relu()
    ours_t, ours = median_time(lambda: mmd2_unbiased(real, fake, polynomial_kernel(84), chunk=2048), repeats)
    theirs_t, theirs = median_time(lambda: float(poly_mmd(real, fake, degree=3, gamma=None, coef=1.0)), repeats)
    rows = [("MMD² (KID kernel), 10,000 x 10,000 x 84-d", ours_t, theirs_t, abs(ours - theirs) / abs(theirs))]
    pixels_real = digits(10_000, 4).flatten(1)
    pixels_fake = digits(10_000, 5).flatten(1)
    sigma = median_bandwidth(pixels_real, 1000, torch.Generator().manual_seed(0))
    gauss_t, _ = median_time(
        lambda: mmd2_unbiased(pixels_real, pixels_fake, gaussian_kernel(sigma), chunk=2048), repeats
    )
    rows.append(("MMD² (Gaussian), 10,000 x 10,000 x 784 pixels, 2048² blocks", gauss_t, float("nan"), float("nan")))
    return rows


def bench_fid(repeats: int) -> list[tuple[str, float, float, float]]:
    from torchmetrics.image.fid import FrechetInceptionDistance

    from genzoo_metrics.classifier import WEIGHTS_DIR, extract_features, load_feature_net
    from genzoo_metrics.fid import fid_from_features

    net, _ = load_feature_net(WEIGHTS_DIR / "lenet-mnist5k.safetensors")
    real, fake = digits(10_000, 6), digits(10_000, 7)

    class Features(nn.Module):
        num_features = 84

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return net.features(x)

    def ours() -> float:
        return fid_from_features(extract_features(net, real), extract_features(net, fake))

    def theirs() -> float:
        metric = FrechetInceptionDistance(feature=Features(), normalize=False)
        for i in range(0, 10_000, 500):
            metric.update(real[i : i + 500], real=True)
            metric.update(fake[i : i + 500], real=False)
        return float(metric.compute())

    with torch.no_grad():
        ours_t, a = median_time(ours, repeats)
        theirs_t, b = median_time(theirs, repeats)
    return [("FID, 10,000 vs 10,000 digits, LeNet features", ours_t, theirs_t, abs(a - b) / abs(b))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", choices=("ms-ssim", "mmd", "fid"), default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import torchmetrics

    print(
        f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, torchmetrics "
        f"{torchmetrics.__version__}, {args.threads} thread(s), medians of {args.repeats}"
    )
    print(
        "| measurement | genzoo (s) | reference (s) | genzoo / reference | "
        "difference (MS-SSIM: max abs; MMD, FID: relative) |"
    )
    print("|---|---:|---:|---:|---:|")
    benches = {"ms-ssim": bench_ms_ssim, "mmd": bench_mmd, "fid": bench_fid}
    for name, bench in benches.items():
        if args.only and name != args.only:
            continue
        for label, ours, theirs, diff in bench(args.repeats):
            ratio = ours / theirs if theirs == theirs else float("nan")
            print(f"| {label} | {ours:.3f} | {theirs:.3f} | {ratio:.2f} | {diff:.1e} |", flush=True)


if __name__ == "__main__":
    main()
