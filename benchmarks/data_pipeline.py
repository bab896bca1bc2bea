"""Data pipeline benchmark: ``prepare`` throughput, and an epoch from the cache vs decoding DICOM.

Side by side in one process on the same synthetic collection (``genzoo data synth-ct``):

- prepare: slices per second for a cold ``prepare`` (headers + decode + window + resize +
  assembly), inline and with worker processes;
- epoch: samples per second for one shuffled pass in batches, (a) reading the memory-mapped
  cache through :class:`~genzoo_datasets.pancreas.dataset.PancreasDataset`, and (b) decoding each
  item's DICOM file and applying the same HU -> window -> resize maths per item, the way a
  cache-less loader does. Target: (a) at least 50 times faster than (b).

Figures are medians of ``--repeats`` runs. Run from the repository root::

    OMP_NUM_THREADS=1 python benchmarks/data_pipeline.py --patients 4 --slices 40 --pixels 256
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from genzoo.data import collate_images
from genzoo_datasets.configs import PancreasConfig
from genzoo_datasets.pancreas import process, transform
from genzoo_datasets.pancreas.dataset import PancreasDataset
from genzoo_datasets.pancreas.prepare import prepare
from genzoo_datasets.pancreas.synth import write_collection


class DecodePerItem(Dataset):
    """The cache-less baseline: every item reads and converts its DICOM file."""

    def __init__(self, root: Path, manifest: dict, size: int) -> None:
        self.root, self.size = root, size
        self.items = []
        for entry in manifest["series"]:  # same order as the cache: series, then slices by position
            for rel in entry["files"]:
                record = manifest["files"][rel]
                self.items.append((rel, record["slope"], record["intercept"], record["spacing"]))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> torch.Tensor:
        rel, slope, intercept, (row_mm, col_mm) = self.items[index]
        stored = process.decode_slice(self.root / rel)
        hu = transform.to_hu(stored, slope, intercept)
        windowed = transform.window(hu, 400.0, 40.0)
        extent = max(stored.shape[0] * row_mm, stored.shape[1] * col_mm)
        plane = transform.square_plane(windowed, row_mm, col_mm, self.size, extent)
        return torch.from_numpy(plane[None].astype(np.float32))


def epoch_rate(dataset: Dataset, batch_size: int, seed: int) -> float:
    """Samples per second for one shuffled pass."""
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, collate_fn=collate_images,
                        generator=torch.Generator().manual_seed(seed))
    start = time.perf_counter()
    seen = 0
    checksum = 0.0
    for batch in loader:
        seen += len(batch)
        checksum += float(batch[:, :, 0, 0].sum())  # touch the data
    return seen / (time.perf_counter() - start)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import pydicom

    return (f"{cpu}, {os.cpu_count()} logical cores, Python {platform.python_version()}, numpy {np.__version__}, "
            f"pydicom {pydicom.__version__}, torch {torch.__version__}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--patients", type=int, default=4)
    parser.add_argument("--slices", type=int, default=40)
    parser.add_argument("--pixels", type=int, default=256, help="rows = columns of the synthetic DICOM slices")
    parser.add_argument("--size", type=int, default=64, help="prepared edge length")
    parser.add_argument("--workers", type=int, default=2, help="worker processes for the parallel prepare")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    results: dict = {"machine": machine(), "args": vars(args)}
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "ct"
        write_collection(source, args.patients, size=args.pixels, slices=args.slices, seed=0)
        n_slices = args.patients * args.slices
        prepare_rates: dict[str, list[float]] = {"inline": [], f"{args.workers} workers": []}
        result = None
        for repeat in range(args.repeats):
            for label, workers in (("inline", 1), (f"{args.workers} workers", args.workers)):
                config = PancreasConfig(size=args.size, workers=workers, test_fraction=0.0)
                start = time.perf_counter()
                result = prepare(source, config, folder=Path(tmp) / f"cache-{label}-{repeat}", progress=False,
                                 stream=open(os.devnull, "w"))
                prepare_rates[label].append(n_slices / (time.perf_counter() - start))
        results["prepare_slices_per_s"] = {k: statistics.median(v) for k, v in prepare_rates.items()}
        cached = PancreasDataset(result.folder, result.manifest, "train")
        baseline = DecodePerItem(source, result.manifest, args.size)
        assert len(cached) == len(baseline) == n_slices
        cached_rates = [epoch_rate(cached, args.batch_size, r) for r in range(args.repeats)]
        decode_rates = [epoch_rate(baseline, args.batch_size, r) for r in range(args.repeats)]
        results["epoch_samples_per_s"] = {"cache": statistics.median(cached_rates), "decode per item": statistics.median(decode_rates)}
        results["cache_speedup"] = results["epoch_samples_per_s"]["cache"] / results["epoch_samples_per_s"]["decode per item"]
        # the two paths give the same samples (up to float16 storage)
        for index in (0, len(cached) // 2, len(cached) - 1):
            np.testing.assert_allclose(cached[index].numpy(), baseline[index].numpy(), atol=2e-3)
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        print(f"machine: {results['machine']}")
        print(f"collection: {args.patients} patients x {args.slices} slices of {args.pixels}x{args.pixels} -> {args.size}x{args.size}")
        for label, rate in results["prepare_slices_per_s"].items():
            print(f"prepare ({label}): {rate:,.0f} slices/s")
        for label, rate in results["epoch_samples_per_s"].items():
            print(f"epoch ({label}): {rate:,.0f} samples/s")
        print(f"cached epoch is {results['cache_speedup']:,.0f}x faster than decoding DICOM per item (target >= 50x)")
    return results


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
