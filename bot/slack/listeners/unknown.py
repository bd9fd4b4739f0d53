"""Clicks no other listener knows (a button from an older version, a tampered action id):
acked, so Slack does not retry them, and the user is told. Registered last."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.slack.blocks.common import refusal
from bot.slack.listeners.payloads import clicked
from bot.usecases.context import BotContext

log = logging.getLogger(__name__)

UNKNOWN_BUTTON_TEXT = (
    "wsusbot does not know this button (it may come from an older version of the bot); "
    "run the command again"
)


def register(app: App, ctx: BotContext) -> None:  # noqa: ARG001 - same shape as every listener
    @app.action(re.compile(r".*"))
    def unknown_action(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        click = clicked(body)
        log.info("click on unknown action id %r ignored", click.action_id[:80])
        respond(
            response_type="ephemeral",
            replace_original=False,
            **refusal(UNKNOWN_BUTTON_TEXT).as_kwargs(),
        )
