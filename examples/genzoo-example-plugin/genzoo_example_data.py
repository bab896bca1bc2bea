"""A data set of your own images: grayscale PNG files from a folder, resized to one square size.

Files are sorted by name; every 10th one (the 10th, 20th, ...) is the held-out ``test`` split that
``genzoo eval`` scores against, the rest is ``train``. Pixels map from [0, 255] to [-1, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from genzoo.config import doc
from genzoo.data import TensorImageDataset
from genzoo.errors import DataError


@dataclass
class PNGFolderConfig:
    size: int = doc("side in pixels every image is resized to", 28)

    def __post_init__(self) -> None:
        if self.size < 4:
            raise ValueError(f"size must be at least 4, got {self.size}")


def png_folder(config: PNGFolderConfig, split: str, data_dir: Path | None) -> TensorImageDataset:
    from PIL import Image

    if data_dir is None or not data_dir.is_dir():
        raise DataError(f"png-folder needs --data-dir FOLDER with *.png files (got {data_dir})")
    files = sorted(data_dir.glob("*.png"))
    files = [f for i, f in enumerate(files) if (i % 10 == 9) == (split == "test")]
    if not files:
        raise DataError(f"{data_dir} holds no PNG files for the {split} split (it needs 10 files or more)")
    pixels = [
        np.asarray(Image.open(f).convert("L").resize((config.size, config.size), Image.BILINEAR)) for f in files
    ]
    images = torch.from_numpy(np.stack(pixels)).unsqueeze(1).float() / 127.5 - 1
    return TensorImageDataset(
        images, name="png-folder", normalisation={"source": "uint8 PNG, grayscale", "scale": "x / 127.5 - 1"}
    )
