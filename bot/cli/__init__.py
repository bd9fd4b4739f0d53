"""The ``wsusbot`` command line. Each command group lives in its own module and is added
by :func:`build_app`; nothing is registered at import time."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import typer

from bot.cli import (
    check_cmd,
    checks_cmd,
    db_cmd,
    demo_cmd,
    digest_cmd,
    lab_cmd,
    serve_cmd,
    worker_cmd,
)
from bot.cli.state import CliState, print_error
from checks.errors import WsusbotError

if TYPE_CHECKING:
    from bot.observability.logs import LogFormat

#: set to 1 to see the traceback of an internal error instead of its one-line summary
TRACEBACK_ENV = "WSUSBOT_TRACEBACK"


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            shown = version("wsusbot")
        except PackageNotFoundError:  # a source tree without an installed distribution
            shown = "unknown"
        typer.echo(f"wsusbot {shown}")
        raise typer.Exit(0)


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="wsusbot",
        help="Diagnose and fix WSUS client self-update problems (CLI and Slack bot).",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )

    @app.callback()
    def root(
        ctx: typer.Context,
        config: str | None = typer.Option(
            None,
            "--config",
            "-c",
            envvar="WSUSBOT_CONFIG",
            help="Configuration file (TOML). Default: $WSUSBOT_CONFIG.",
        ),
        as_user: str | None = typer.Option(
            None,
            "--as",
            metavar="NAME",
            help="Who runs this, for the audit trail (default: the OS user).",
        ),
        log_format: str = typer.Option(
            "text",
            "--log-format",
            envvar="WSUSBOT_LOG_FORMAT",
            help="Log lines on stderr: text or json (one object a line).",
        ),
        log_level: str | None = typer.Option(
            None, "--log-level", help="DEBUG, INFO, WARNING (default WARNING; serve: INFO)."
        ),
        _version_flag: bool = typer.Option(
            False,
            "--version",
            callback=_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ) -> None:
        from bot.observability.logs import configure_logging

        fmt = _log_format(log_format)
        # serve configures again with its own default level (INFO) unless one is given
        configure_logging(log_level or "WARNING", fmt)
        ctx.obj = CliState.create(config, as_user=as_user, log_format=fmt, log_level=log_level)

    for module in _COMMAND_MODULES:
        module.register(app)
    return app


def _log_format(text: str) -> LogFormat:
    from checks.errors import UsageError

    if text == "text":
        return "text"
    if text == "json":
        return "json"
    raise UsageError(f"--log-format {text[:20]!r}: use text or json")


_COMMAND_MODULES = (
    checks_cmd,
    check_cmd,
    lab_cmd,
    serve_cmd,
    digest_cmd,
    demo_cmd,
    db_cmd,
    worker_cmd,
)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: exit codes 0 ok, 1 a check failed, 2 usage/config/facts
    error, 3 host unreachable, 130 interrupted. Never a traceback for a usage mistake."""
    from bot.cli.errors import usage_exception_types

    app = build_app()
    try:
        result = app(args=argv, standalone_mode=False, prog_name="wsusbot")
    except WsusbotError as exc:
        print_error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        # the parser's exception types are looked up only here: importing click (when
        # installed beside typer's vendored copy) on every run would cost start-up time
        usage, aborts, exits = usage_exception_types()
        if isinstance(exc, aborts):
            print_error("aborted")
            return 130
        if isinstance(exc, exits):
            return int(getattr(exc, "exit_code", 0) or 0)
        if isinstance(exc, usage):
            return _show_usage_error(exc)
        if os.environ.get(TRACEBACK_ENV) == "1":
            raise
        print_error(
            f"internal error ({type(exc).__name__}): {_one_line(str(exc))}; "
            f"set {TRACEBACK_ENV}=1 to see where"
        )
        return 1
    return result if isinstance(result, int) else 0


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _show_usage_error(exc: BaseException) -> int:
    """One line: what was wrong and where to look; help text only when none was given."""
    from bot.cli.errors import is_no_args_help

    code = int(getattr(exc, "exit_code", 2))
    ctx = getattr(exc, "ctx", None)
    if is_no_args_help(exc):
        # ``wsusbot checks`` alone: the parser has printed the group's help; exit 2, as
        # nothing ran
        return 2
    formatter = getattr(exc, "format_message", None)
    message = formatter() if callable(formatter) else str(exc)
    hint = ""
    if ctx is not None:
        hint = f" (see '{ctx.command_path} --help')"
    print_error(_one_line(message) + hint)
    return code if code else 2


def entry() -> None:
    sys.exit(main())
