"""The ``pancreas`` registry factory: open a prepared cache, preparing it first when needed.

``data_dir`` is either a raw DICOM collection (prepared on first use, with a progress bar on
stderr, and brought up to date when files or parameters change) or a prepared cache folder (one
holding our ``manifest.json``), which can be copied between machines without the DICOM files.
Samples are memory-mapped float16 in [-1, 1]; an epoch reads at memory speed.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genzoo.config import build
from genzoo.data import TensorImageDataset
from genzoo.errors import DataError
from genzoo_datasets.configs import PancreasConfig
from genzoo_datasets.pancreas.prepare import MANIFEST_NAME, SPLITS, load_manifest, prepare

NAME = "pancreas"


class PancreasDataset(TensorImageDataset):
    """Memory-mapped prepared samples of one split.

    Attributes:
        manifest: the cache manifest (source files, skips, series, parameters).
        folder: the cache folder.
    """

    def __init__(self, folder: Path, manifest: dict[str, Any], split: str) -> None:
        info = manifest["splits"][split]
        array = np.load(folder / info["file"], mmap_mode="c")  # copy-on-write: writable view, no copy
        expected = tuple(info["shape"])
        if array.shape[1:] != expected or len(array) != info["count"]:
            raise DataError(f"pancreas cache {folder} is inconsistent with its manifest; delete it and prepare again")
        super().__init__(torch.from_numpy(array), None, name=NAME, normalisation=manifest["normalisation"])
        self.manifest = manifest
        self.folder = folder
        self.split = split


def _check_split(manifest: dict[str, Any], split: str, where: Path) -> None:
    if split not in SPLITS:
        raise DataError(f"pancreas has no split {split!r}; use train or test")
    if manifest["splits"][split]["count"] == 0:
        patients = len({e["patient"] for e in manifest["series"]})
        raise DataError(
            f"pancreas split {split!r} in {where} is empty ({patients} patient(s) in the collection); "
            "add patients or change test_fraction"
        )


def factory(config: PancreasConfig | dict | None, split: str, data_dir: str | Path | None = None) -> PancreasDataset:
    """Build a split of ``pancreas`` from a raw DICOM folder or a prepared cache folder."""
    if config is None or isinstance(config, dict):
        config = build(PancreasConfig, config or {})
    if not data_dir:
        raise DataError(
            "pancreas needs --data-dir: the TCIA Pancreas-CT download (https://doi.org/10.7937/K9/TCIA.2016.tNB1kqBU) "
            "or a prepared cache; for a synthetic one run `genzoo data synth-ct OUT`"
        )
    folder = Path(data_dir).expanduser()
    if not folder.exists():
        raise DataError(f"pancreas: {folder} does not exist")
    manifest = load_manifest(folder) if (folder / MANIFEST_NAME).is_file() else None
    if manifest is not None:
        params = config.output_params()
        if manifest["params"]["mode"] != params["mode"] or manifest["params"]["size"] != params["size"]:
            got = f"{manifest['params']['mode']} {manifest['params']['size']}"
            raise DataError(
                f"pancreas cache {folder} holds {got} samples but the config asks for {config.mode} {config.size}; "
                "prepare one for these settings from the DICOM folder"
            )
        cache_folder = folder
    else:
        result = prepare(folder, config, progress=sys.stderr.isatty(), stream=sys.stderr)
        manifest, cache_folder = result.manifest, result.folder
    _check_split(manifest, split, cache_folder)
    return PancreasDataset(cache_folder, manifest, split)
