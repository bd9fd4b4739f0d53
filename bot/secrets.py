"""Secrets from the environment or from files, never from the config text itself.

``NAME`` or ``NAME_FILE`` in the environment, or a ``*_file`` path from the config. The
values are wrapped so that ``repr``/``str`` never show them (logs, exceptions, JSON).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from checks.errors import ConfigError
from checks.secret import Secret

__all__ = ["Secret", "read_secret"]


def _read_file(path: Path, what: str) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} file {path}: {exc.strerror}") from exc
    value = text.strip()
    if not value:
        raise ConfigError(f"the {what} file {path} is empty")
    return value


def _found(value: str) -> Secret:
    # every secret read is known to the log redactor: it never appears in a log line
    from bot.observability.logs import REDACTOR

    REDACTOR.add(value)
    return Secret(value)


def read_secret(
    name: str,
    what: str,
    *,
    file_from_config: Path | None = None,
    env: Mapping[str, str] | None = None,
    required: bool = True,
) -> Secret | None:
    """``name`` in env wins, then ``name_FILE`` in env, then the config's file."""
    environ = os.environ if env is None else env
    if environ.get(name):
        return _found(environ[name])
    file_var = f"{name}_FILE"
    if environ.get(file_var):
        return _found(_read_file(Path(environ[file_var]), what))
    if file_from_config is not None:
        return _found(_read_file(file_from_config, what))
    if required:
        raise ConfigError(
            f"no {what}: set {name} or {file_var} in the environment, or the config's *_file key"
        )
    return None
