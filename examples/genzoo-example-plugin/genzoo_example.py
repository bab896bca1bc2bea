"""Hook implementations of the example plugin. Imports nothing heavy: the model is named as a string."""

from __future__ import annotations

import genzoo
from genzoo import ModelSpec


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
