"""Documentation that must stay true: every hook's exact signature is in CONTRIBUTING.md."""

from __future__ import annotations

import inspect
import re

from genzoo import hookspecs
from tests.conftest import REPO


def hook_signatures() -> dict[str, str]:
    signatures = {}
    for name, function in inspect.getmembers(hookspecs, inspect.isfunction):
        if name.startswith("genzoo_"):
            source = inspect.getsource(function)
            signatures[name] = re.search(r"^def .*?:$", source, re.M | re.S).group(0)
    return signatures


def test_every_hook_spec_is_documented_with_its_exact_signature():
    contributing = (REPO / "CONTRIBUTING.md").read_text()
    signatures = hook_signatures()
    assert set(signatures) == {"genzoo_models", "genzoo_losses", "genzoo_datasets", "genzoo_metrics", "genzoo_commands",
                          "genzoo_loggers"}
    for name, signature in signatures.items():
        assert signature in contributing, f"CONTRIBUTING.md lacks the signature of {name}: {signature}"


def test_readme_test_command_is_what_ci_runs():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    command = re.search(r"^pip install -e \"\.\[test\]\".*$", readme, re.M).group(0)
    assert command in ci
