"""The digest's "Check" buttons: ack at once, then run the check in the digest's thread."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.flows.check_flow import Refusal
from bot.flows.context import BotContext
from bot.flows.digest_flow import check_clicked
from handlers.actions import clicked
from handlers.digest_blocks import CHECK_ACTION

log = logging.getLogger(__name__)


def register(app: App, ctx: BotContext) -> None:
    @app.action(CHECK_ACTION)
    def digest_check(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        handle_click(ctx, body, respond)


def handle_click(ctx: BotContext, body: dict[str, Any], respond: Respond) -> None:
    action = (body.get("actions") or [{}])[0]
    user, channel, message_ts, _action_id, token = clicked(body, action)
    result = check_clicked(ctx, user=user, channel=channel, token=token, message_ts=message_ts)
    if isinstance(result, Refusal):
        respond(response_type="ephemeral", replace_original=False, text=result.text)
