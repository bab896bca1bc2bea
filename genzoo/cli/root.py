"""The root Typer app, its global options, and one-line handling of user errors."""

from __future__ import annotations

import errno
import sys
import traceback
from typing import Any

import typer
from typer.core import TyperGroup

from genzoo import console
from genzoo.errors import GenzooError

_state = {"verbose": False}


class GenzooGroup(TyperGroup):
    """Prints a :class:`GenzooError` as one line and exits non-zero; ``--verbose`` adds the traceback."""

    def invoke(self, ctx: Any) -> Any:
        console.reset_consoles()
        try:
            return super().invoke(ctx)
        except GenzooError as exc:
            if _state["verbose"]:
                traceback.print_exc()
            print(f"genzoo: error: {one_line(exc)}", file=sys.stderr)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:  # Ctrl-C (in `run`, the second one: the first stops at the next checkpoint)
            print("genzoo: interrupted; partly written files were removed", file=sys.stderr)
            raise typer.Exit(130) from None
        except OSError as exc:  # a disk that is full, read-only or not ours, met outside genzoo's own writes
            if exc.errno not in DISK_ERRNOS or (exc.errno == errno.ENOENT and not exc.filename):
                raise  # a missing file the line could not name is a bug to show in full
            if _state["verbose"]:
                traceback.print_exc()
            where = f"{exc.filename}: " if exc.filename else ""
            print(f"genzoo: error: {one_line(where + (exc.strerror or str(exc)))}", file=sys.stderr)
            raise typer.Exit(1) from None


# ENOENT: a folder removed under a running command (a run folder deleted mid-run), named in the line
DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG, errno.ENOTDIR,
               errno.EISDIR, errno.ENAMETOOLONG, errno.ELOOP, errno.ENOENT}


def one_line(message: object) -> str:
    """An error message as one printable line (it may quote text from a hostile file)."""
    from genzoo.safejson import printable

    return printable(" ".join(str(message).split("\n")), 2000)


def output_path(positional: Any, option: Any, what: str) -> Any:
    """The output of a command that takes it as ``-o/--out`` (and, for compatibility, as a bare argument)."""
    if positional is not None and option is not None and positional != option:
        raise GenzooError(f"{what} given twice ({positional} and --out {option}); give it once, as -o/--out")
    chosen = option if option is not None else positional
    if chosen is None:
        raise GenzooError(f"missing {what}: pass -o/--out PATH")
    return chosen


def _version_text(host: Any) -> str:
    from genzoo import __version__

    lines = [f"genzoo {__version__}"]
    for record in host.plugins():
        dist = f"{record.distribution} {record.version}".strip() or "no distribution"
        lines.append(f"  plugin {record.name}: {dist} [{record.status}]")
    return "\n".join(lines)


def build_app(host: Any = None) -> typer.Typer:
    """Build the CLI over a plugin host (default: the installed plugins).

    Passing a host (tests, embedding applications) also makes it the process-wide registry,
    so every command sees the same plugins.
    """
    from genzoo.cli import catalog, evaluate, runs, sharing, training

    if host is not None:
        from genzoo.registry import Registry, set_registry

        set_registry(Registry(host))

    app = typer.Typer(
        cls=GenzooGroup,
        name="genzoo",
        help="A plugin-based zoo of generative image models.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    data_app = typer.Typer(cls=GenzooGroup, help="Prepare and inspect data sets.", no_args_is_help=True)
    groups = {"data": data_app}

    def get_host() -> Any:
        nonlocal host
        if host is None:
            from genzoo.registry import get_registry

            host = get_registry().host
        return host

    def version_callback(value: bool) -> None:
        if value:
            print(_version_text(get_host()))
            raise typer.Exit()

    @app.callback()
    def root(
        version: bool = typer.Option(
            False, "--version", callback=version_callback, is_eager=True, help="Show genzoo's and every plugin's version."
        ),
        verbose: bool = typer.Option(False, "--verbose", "-v", help="Show tracebacks for errors."),
    ) -> None:
        _state["verbose"] = verbose

    catalog.register(app, get_host)
    training.register(app)
    evaluate.register(app)
    runs.register(app)
    sharing.register(app)
    app.add_typer(data_app, name="data")
    get_host().add_commands(app, groups)
    return app


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    import genzoo.cli

    genzoo.cli.app(args=argv, prog_name="genzoo")
