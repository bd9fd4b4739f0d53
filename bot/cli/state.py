"""Shared CLI state: the config path, lazily loaded settings, consoles, who is running."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.text import Text

from bot.identity import cli_identity

if TYPE_CHECKING:
    # imported on use: pydantic and the config models cost more than ``--help`` itself
    from bot.config import Settings
    from bot.observability.logs import LogFormat

#: piped output is never wrapped: a line is as long as its content (up to this)
PIPE_WIDTH = 10_000


def stdout_console() -> Console:
    """Rich on stdout. Not a terminal (a pipe, a file): no 80-column wrapping of tables,
    no colour codes; a terminal keeps its own width."""
    if sys.stdout.isatty():
        return Console(soft_wrap=False)
    return Console(soft_wrap=False, width=PIPE_WIDTH, no_color=True, highlight=False)


def stderr_console() -> Console:
    """Progress and spinners: on stderr, so stdout stays the result alone."""
    return Console(stderr=True, soft_wrap=True, highlight=False)


@dataclass
class CliState:
    config_path: Path | None
    as_user: str | None = None
    log_format: LogFormat = "text"
    log_level: str | None = None
    out: Console = field(default_factory=stdout_console)
    err: Console = field(default_factory=stderr_console)
    _settings: Settings | None = None

    @classmethod
    def create(
        cls,
        config: str | None,
        *,
        as_user: str | None = None,
        log_format: LogFormat = "text",
        log_level: str | None = None,
    ) -> CliState:
        if as_user is not None:
            cli_identity(as_user)  # a bad --as is a usage error before anything runs
        return cls(
            config_path=Path(config) if config else None,
            as_user=as_user,
            log_format=log_format,
            log_level=log_level,
        )

    @property
    def identity(self) -> str:
        return cli_identity(self.as_user)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from bot.config import load_settings

            self._settings = load_settings(self.config_path)
        return self._settings

    def require_config(self, what: str) -> Settings:
        """Settings for a command that must not run on defaults (it would create
        ./var/wsusbot.sqlite or talk to slack.com): a config file, or WSUSBOT_CONFIG."""
        given = ("WSUSBOT_CONFIG", "WSUSBOT_DATABASE_URL", "WSUSBOT_DATABASE_URL_FILE")
        if self.config_path is None and not any(os.environ.get(v) for v in given):
            from checks.errors import ConfigError

            raise ConfigError(
                f"{what} needs a configuration: give --config FILE or set WSUSBOT_CONFIG "
                "(docs/config.md; deploy/ has an example)"
            )
        return self.settings


def state_of(ctx: typer.Context) -> CliState:
    obj = ctx.find_root().obj
    assert isinstance(obj, CliState)
    return obj


def print_error(message: str) -> None:
    Console(stderr=True, soft_wrap=True).print(
        Text.assemble(("error: ", "bold red"), message), highlight=False
    )


def print_json(payload: object) -> None:
    """JSON on stdout, machine-readable: no colours, no wrapping."""
    typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
