"""What crosses the broker: JSON payloads in, JSON answers out (never pickles, never
exceptions: Celery would have to rebuild foreign classes on the other side).

An answer is ``{"ok": true, ...}`` or ``{"ok": false, "error": {...}}``; an error names a
class of :mod:`checks.errors`, which the bot raises again with the worker's message (the
handlers already keep secrets out of messages)."""

from __future__ import annotations

from typing import Any

from checks import errors
from checks.errors import CollectionError, WsusbotError


def error_answer(exc: WsusbotError) -> dict[str, Any]:
    return {
        "ok": False,
        "error": {
            "type": type(exc).__name__,
            "message": str(exc)[:4000],
            "delivered": bool(getattr(exc, "delivered", False)),
        },
    }


def _error_classes() -> dict[str, type[WsusbotError]]:
    found: dict[str, type[WsusbotError]] = {}
    pending: list[type[WsusbotError]] = [WsusbotError]
    while pending:
        cls = pending.pop()
        if cls.__module__ == errors.__name__:
            found[cls.__name__] = cls
        pending.extend(cls.__subclasses__())
    return found


def raise_answer_error(host: str, answer: Any) -> dict[str, Any]:
    """The answer if it is ``ok``; else the worker's error, raised as its own class."""
    if not isinstance(answer, dict):
        raise errors.BadOutputError(f"{host}: the site worker's answer is not a JSON object")
    if answer.get("ok") is True:
        return answer
    error = answer.get("error")
    if not isinstance(error, dict):
        raise errors.BadOutputError(f"{host}: the site worker's answer has no result or error")
    cls = _error_classes().get(str(error.get("type")), CollectionError)
    message = str(error.get("message") or "the site worker failed")[:4000]
    exc: WsusbotError
    if issubclass(cls, CollectionError):
        exc = cls(message, host=host)
        exc.delivered = bool(error.get("delivered"))
    else:
        exc = cls(message)
    raise exc
