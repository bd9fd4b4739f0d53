"""Slack's side of the metrics and logs: Web API errors counted by method and error
word, one correlation id per incoming request, ``/wsus`` commands by verb and outcome."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import SlackResponse

from bot.commands import parse
from bot.observability.logs import request_scope
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
        except (SlackClientError, OSError) as exc:
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


class ObservedApp(App):
    """Bolt's App with one correlation id per delivery, set around ``dispatch`` (Bolt
    runs the listeners after the middleware chain returns, so a middleware cannot scope
    them; the listener pool copies the id, see ``ContextExecutor``), and ``/wsus``
    commands counted by verb and outcome."""

    metrics: Metrics | None = None

    def dispatch(self, req: BoltRequest) -> BoltResponse:
        with request_scope():
            body = req.body if isinstance(req.body, dict) else {}
            command = body.get("command")
            try:
                response = super().dispatch(req)
            except Exception:
                self._count(command, body, "error")
                raise
            outcome = "accepted" if response.status < 400 else "error"
            self._count(command, body, outcome)
            return response

    def _count(self, command: object, body: dict[str, Any], outcome: str) -> None:
        if not command or self.metrics is None:
            return
        verb = command_verb(body.get("text"))
        if verb == "invalid" and outcome == "accepted":
            outcome = "refused"
        self.metrics.command(verb, outcome)
        log.debug("command %s %s: %s", command, verb, outcome)
