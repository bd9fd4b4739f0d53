"""Logging for ``wsusbot serve`` and the CLI: text or one JSON object per line, with
correlation ids (per Slack request, per check run) carried in contextvars, and secrets
redacted from every line.

Why contextvars: a Slack request moves from Bolt's thread to its listener pool and on to
the worker loop; ``contextvars`` follow ``asyncio`` tasks, ``asyncio.to_thread`` and
``run_coroutine_threadsafe`` (the handle copies the caller's context), and Bolt's
listener pool is given an executor that copies it too (``ContextExecutor``).
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any, Literal, ParamSpec, TypeVar

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "wsusbot_request_id", default=None
)
run_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("wsusbot_run_id", default=None)

#: libraries whose INFO lines are one per request or per job run: noise at INFO
NOISY_LOGGERS = (
    "apscheduler",
    "httpx",
    "httpcore",
    "urllib3",
    "slack_sdk",
    "slack_bolt",
    "wsusbot.bolt",
    "uvicorn",
    "alembic",
)

REDACTED = "***"
#: tokens and credentials worth catching even when nobody registered them: Slack tokens
#: (https://api.slack.com/authentication/token-types: xoxb-, xoxp-, xapp-, ...), a
#: password in a URL, "password=..." / "Authorization: ..." in a message
_PATTERNS = (
    re.compile(r"\bx(?:ox[abeprs]|app)-[A-Za-z0-9-]{6,}"),
    re.compile(r"(?<=://)([^/:@\s]+):[^@/\s]+(?=@)"),
    re.compile(r"(?i)((?:password|passwd|secret|token)\s*[=:]\s*)(\S+)"),
    re.compile(r"(?i)(authorization\s*:\s*\w+\s+)(\S+)"),
)


def new_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(6)}"


@contextmanager
def correlation(var: contextvars.ContextVar[str | None], value: str) -> Iterator[str]:
    token = var.set(value)
    try:
        yield value
    finally:
        var.reset(token)


def request_scope(value: str | None = None) -> AbstractContextManager[str]:
    return correlation(request_id, value or new_id("req"))


def run_scope(value: str | None = None) -> AbstractContextManager[str]:
    return correlation(run_id, value or new_id("run"))


class Redactor:
    """Known secret values (registered when read) and the patterns above."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def add(self, value: str | None) -> None:
        # a one- or two-character "secret" would redact every line it occurs in
        if value and len(value) >= 4:
            with self._lock:
                self._values.add(value)

    def __call__(self, text: str) -> str:
        with self._lock:
            values = sorted(self._values, key=len, reverse=True)
        for value in values:
            if value in text:
                text = text.replace(value, REDACTED)
        text = _PATTERNS[0].sub(REDACTED, text)
        text = _PATTERNS[1].sub(lambda m: f"{m.group(1)}:{REDACTED}", text)
        text = _PATTERNS[2].sub(lambda m: f"{m.group(1)}{REDACTED}", text)
        return _PATTERNS[3].sub(lambda m: f"{m.group(1)}{REDACTED}", text)


#: the process's redactor: secrets are registered as :mod:`bot.secrets` reads them
REDACTOR = Redactor()


class _Base(logging.Formatter):
    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redact = redactor

    def _message(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            text += "\n" + self.formatStack(record.stack_info)
        return self._redact(text)


class TextFormatter(_Base):
    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%d %H:%M:%S")
        ids = " ".join(
            f"{name}={value}"
            for name, value in (("req", request_id.get()), ("run", run_id.get()))
            if value
        )
        ids = f" [{ids}]" if ids else ""
        return f"{when} {record.levelname} {record.name}{ids}: {self._message(record)}"


class JsonFormatter(_Base):
    """One JSON object per line: time, level, logger, message, the correlation ids."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": self._message(record),
        }
        if (rid := request_id.get()) is not None:
            payload["request_id"] = rid
        if (cid := run_id.get()) is not None:
            payload["run_id"] = cid
        payload["thread"] = record.threadName
        return json.dumps(payload, ensure_ascii=False, default=str)


def configure_logging(
    level: str = "INFO",
    fmt: LogFormat = "text",
    *,
    stream: Any = None,
    redactor: Redactor = REDACTOR,
    quiet: Iterable[str] = NOISY_LOGGERS,
) -> logging.Handler:
    """Replace the root handlers with one on ``stream`` (stderr by default)."""
    name = level.upper()
    numeric = logging.getLevelName(name)
    if not isinstance(numeric, int):
        from checks.errors import UsageError

        raise UsageError(f"--log-level {level!r}: use DEBUG, INFO, WARNING or ERROR")
    if fmt not in LOG_FORMATS:
        from checks.errors import UsageError

        raise UsageError(f"--log-format {fmt!r}: use text or json")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter(redactor) if fmt == "json" else TextFormatter(redactor))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)
    # per-request and per-job INFO lines from libraries only when asked for (DEBUG)
    quiet_level = logging.DEBUG if numeric <= logging.DEBUG else logging.WARNING
    for logger in quiet:
        logging.getLogger(logger).setLevel(quiet_level)
    return handler


P = ParamSpec("P")
T = TypeVar("T")


class ContextExecutor(ThreadPoolExecutor):
    """A thread pool whose tasks run in the submitter's contextvars (the request id)."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        context = contextvars.copy_context()

        def run() -> T:
            return context.run(fn, *args, **kwargs)

        return super().submit(run)
