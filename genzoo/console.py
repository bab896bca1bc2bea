"""Where output goes: results and tables to stdout, progress and diagnostics to stderr."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console

# A table piped to a file or another program is never cut at Rich's default 80 columns (nor at
# $COLUMNS, which describes a terminal that a pipe is not).
PIPE_WIDTH = 1000


def _stdout() -> Console:
    console = Console(highlight=False, soft_wrap=True)
    if console.is_terminal:
        return console
    return Console(highlight=False, soft_wrap=True, width=PIPE_WIDTH)


stdout = _stdout()
stderr = Console(stderr=True, highlight=False)


def print_json(data: Any) -> None:
    """Machine-readable output: plain JSON on stdout, no Rich markup."""
    print(json.dumps(data, indent=2, sort_keys=False, default=str))


def reset_consoles() -> None:
    """Re-bind the consoles to the current sys.stdout/sys.stderr (Typer's CliRunner swaps them)."""
    global stdout, stderr
    stdout = _stdout()
    stderr = Console(stderr=True, highlight=False)
