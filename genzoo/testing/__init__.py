"""Contract checks a plugin's tests can call: the same ones genzoo runs on its own plugins.

One check per plugin kind, each going through the registry exactly as ``genzoo run``, ``genzoo
sample`` and ``genzoo eval`` do::

    from genzoo import testing

    def test_my_plugin():
        testing.check_model_contract("my-model", (1, 28, 28), config={"width": 4})
        testing.check_loss_contract("my-loss")
        testing.check_dataset_contract("my-data", data_dir="tests/data")
        testing.check_metric_contract("my-metric")

Each ``check_*`` function raises ``AssertionError`` with a message that says what broke, and
returns something useful (the model, the data sets, the result) so tests can assert more. They run
on the CPU and seed torch's global RNG (``torch.manual_seed``) for repeatability. The model check
writes a real checkpoint with :func:`genzoo.checkpoint.save_model` and rebuilds the model with
:func:`genzoo.checkpoint.load_model` from the checkpoint's JSON metadata, the path every user takes.
"""

from __future__ import annotations

from genzoo.testing.batches import random_batch
from genzoo.testing.data import check_dataset_contract
from genzoo.testing.losses import check_loss_contract
from genzoo.testing.metrics import check_metric_contract
from genzoo.testing.models import (
    check_builds,
    check_checkpoint_roundtrip,
    check_config_roundtrip,
    check_inference,
    check_model_contract,
    check_safetensors_roundtrip,
    check_sampling,
    check_training_step,
)

__all__ = [
    "check_builds",
    "check_checkpoint_roundtrip",
    "check_config_roundtrip",
    "check_dataset_contract",
    "check_inference",
    "check_loss_contract",
    "check_metric_contract",
    "check_model_contract",
    "check_safetensors_roundtrip",
    "check_sampling",
    "check_training_step",
    "random_batch",
]
