"""Slack's side of the metrics and logs: Web API errors counted by method and error
word, one correlation id per incoming request, ``/wsus`` commands by verb and outcome."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import SlackResponse

from bot.commands import parse
from bot.observability.logs import request_id, request_scope
from bot.observability.metrics import Metrics
from checks.errors import UsageError

log = logging.getLogger(__name__)


class MeteredWebClient(WebClient):
    """Every Web API method goes through ``api_call``: a failure is counted there."""

    metrics: Metrics | None = None

    def api_call(self, api_method: str, *args: Any, **kwargs: Any) -> SlackResponse:
        try:
            return super().api_call(api_method, *args, **kwargs)
        except SlackApiError as exc:
            self._count(api_method, str(exc.response.get("error") or "unknown_error"))
            raise
        except SlackClientError as exc:
            self._count(api_method, type(exc).__name__)
            raise
        except OSError as exc:
            self._count(api_method, type(exc).__name__)
            raise

    def _count(self, method: str, error: str) -> None:
        if self.metrics is not None:
            # the method name is Slack's (chat.postMessage): a bounded label
            self.metrics.slack_error(method.split("?", 1)[0][:60], error[:60])


def command_verb(text: object) -> str:
    """The ``/wsus`` verb as the parser reads it; ``invalid`` for what it refuses."""
    try:
        return parse(text if isinstance(text, str) else None).verb
    except UsageError:
        return "invalid"


def install(app: App, metrics: Metrics) -> None:
    """A global middleware: a request id for the log lines of each delivery (Bolt's
    listener pool copies it, see ``ContextExecutor``), and the command counter."""

    @app.middleware
    def observe(body: dict[str, Any], next: Callable[[], BoltResponse]) -> BoltResponse:
        with request_scope():
            command = body.get("command") if isinstance(body, dict) else None
            if not command:
                return next()
            verb = command_verb(body.get("text"))
            try:
                response = next()
            except Exception:
                metrics.command(verb, "error")
                raise
            metrics.command(verb, "refused" if verb == "invalid" else "accepted")
            log.debug("command %s %s (request %s)", command, verb, request_id.get())
            return response
