"""The ``wsusbot`` command line. Each command group lives in its own module and is added
by :func:`build_app`; nothing is registered at import time."""

from __future__ import annotations

import sys

import click
import typer

from bot.cli import (
    check_cmd,
    checks_cmd,
    demo_cmd,
    digest_cmd,
    lab_cmd,
    serve_cmd,
    worker_cmd,
)
from bot.cli.state import CliState, print_error
from checks.errors import WsusbotError


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
    ) -> None:
        ctx.obj = CliState.create(config)

    for module in _COMMAND_MODULES:
        module.register(app)
    return app


_COMMAND_MODULES = (checks_cmd, check_cmd, lab_cmd, serve_cmd, digest_cmd, demo_cmd, worker_cmd)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: exit codes 0 ok, 1 a check failed, 2 usage/config/facts
    error, 3 host unreachable."""
    app = build_app()
    try:
        result = app(args=argv, standalone_mode=False, prog_name="wsusbot")
    except WsusbotError as exc:
        print_error(str(exc))
        return exc.exit_code
    except click.exceptions.Abort:
        print_error("aborted")
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return result if isinstance(result, int) else 0


def entry() -> None:
    sys.exit(main())
