"""Hook implementations of the example plugin: one component of every kind genzoo knows.

Imports nothing heavy: every factory and config is named as a ``"module:attr"`` string and
imported on first use, so ``genzoo --help`` and ``genzoo list`` stay fast.
"""

from __future__ import annotations

from typing import Any

import genzoo
from genzoo import DatasetSpec, LossSpec, MetricSpec, ModelSpec


@genzoo.hookimpl
def genzoo_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="mlp-aae",
            factory="genzoo_example_model:MLPAdversarialAutoencoder",
            summary="Example plugin: MLP adversarial autoencoder with code and image critics (3 players)",
            config="genzoo_example_model:MLPAAEConfig",
            tags=("example", "autoencoder", "gan"),
        )
    ]


@genzoo.hookimpl
def genzoo_losses() -> list[LossSpec]:
    return [
        LossSpec(
            name="least-squares",
            factory="genzoo_example_loss:LeastSquares",
            summary="Example plugin: least-squares GAN loss (Mao et al. 2017), an adversarial loss",
            config="genzoo_example_loss:LeastSquaresConfig",
            role="adversarial",
            tags=("example",),
        )
    ]


@genzoo.hookimpl
def genzoo_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name="png-folder",
            factory="genzoo_example_data:png_folder",
            summary="Example plugin: grayscale PNG images from --data-dir (every 10th file held out)",
            config="genzoo_example_data:PNGFolderConfig",
            splits=("train", "test"),
            eval_split="test",
            license="that of your images",
            obtain="put *.png files in a folder and pass --data-dir FOLDER (genzoo data export-png writes some)",
            tags=("example",),
        )
    ]


@genzoo.hookimpl
def genzoo_metrics() -> list[MetricSpec]:
    return [
        MetricSpec(
            name="pixel-histogram",
            factory="genzoo_example_metric:PixelHistogram",
            summary="Example plugin: L1 distance between the pixel-value histograms of real and generated images",
            config="genzoo_example_metric:PixelHistogramConfig",
            higher_is_better=False,
            tags=("example",),
        )
    ]


@genzoo.hookimpl
def genzoo_commands(app: Any, groups: dict[str, Any]) -> None:
    from genzoo_example_command import register  # typer only; the work is imported inside the command

    register(groups["data"])
