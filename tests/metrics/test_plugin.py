"""The metrics plugin's entry module: light, and its specs are well formed and buildable."""

from __future__ import annotations

import subprocess
import sys

import pytest

from genzoo.config import build

EXPECTED = {
    "mmd", "mmd-linear", "ms-ssim", "fid", "kid", "class-coverage", "precision-recall", "sharpness",
    "log-likelihood", "elbo", "kl", "recon-error",
}


def test_entry_module_and_commands_import_no_torch() -> None:
    code = (
        "import sys, genzoo_metrics.plugin, genzoo_metrics.commands, genzoo_metrics.report_command, "
        "genzoo_metrics.configs; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_specs_are_registered_with_directions_and_requirements(metrics_registry) -> None:
    names = set(metrics_registry.names("metric"))
    assert EXPECTED <= names
    for name in ("log-likelihood", "elbo", "kl", "recon-error"):
        assert metrics_registry.get("metric", name).requires == ("encoder",)
    assert metrics_registry.get("metric", "fid").higher_is_better is False
    assert metrics_registry.get("metric", "ms-ssim").higher_is_better is None
    for name in EXPECTED:
        spec = metrics_registry.get("metric", name)
        metric = metrics_registry.build_metric(name, None)
        assert callable(metric.compute), name
        assert spec.default_config() is not None


def test_metric_configs_reject_typos_and_accept_overrides(metrics_registry) -> None:
    from genzoo.errors import ConfigError
    from genzoo_metrics.configs import MMDConfig, MSSSIMConfig

    assert build(MMDConfig, {"bandwidth_multipliers": [0.5, 1, 2]}).bandwidth_multipliers == (0.5, 1.0, 2.0)
    with pytest.raises(ConfigError, match="did you mean pairs"):
        build(MSSSIMConfig, {"pair": 10})
