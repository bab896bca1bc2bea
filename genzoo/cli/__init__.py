"""genzoo's command line (Typer + Rich). ``genzoo.cli.app`` is the root app; ``main`` runs it.

The app is built on first access, because building it loads the plugins.
"""

from __future__ import annotations

from typing import Any

from genzoo.cli.root import build_app, main

_app: Any = None


def __getattr__(name: str) -> Any:
    global _app
    if name == "app":
        if _app is None:
            _app = build_app()
        return _app
    raise AttributeError(f"module 'genzoo.cli' has no attribute {name!r}")


__all__ = ["app", "build_app", "main"]
