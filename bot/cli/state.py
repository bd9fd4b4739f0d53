"""Shared CLI state: the config path, lazily loaded settings, consoles."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.text import Text

if TYPE_CHECKING:
    # imported on use: pydantic and the config models cost more than ``--help`` itself
    from bot.config import Settings


@dataclass
class CliState:
    config_path: Path | None
    out: Console = field(default_factory=lambda: Console(soft_wrap=False))
    _settings: Settings | None = None

    @classmethod
    def create(cls, config: str | None) -> CliState:
        return cls(config_path=Path(config) if config else None)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from bot.config import load_settings

            self._settings = load_settings(self.config_path)
        return self._settings


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
