"""The digest's "Check" buttons: ack at once, then run the check in the digest's thread."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.flows.check_flow import Refusal
from bot.flows.context import BotContext
from bot.flows.digest_flow import check_clicked
from handlers.digest_blocks import CHECK_ACTION

log = logging.getLogger(__name__)


def register(app: App, ctx: BotContext) -> None:
    @app.action(CHECK_ACTION)
    def digest_check(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        handle_click(ctx, body, respond)


def handle_click(ctx: BotContext, body: dict[str, Any], respond: Respond) -> None:
    user = str((body.get("user") or {}).get("id", ""))
    channel = str((body.get("channel") or {}).get("id", ""))
    container = body.get("container") or {}
    message_ts = str(container.get("message_ts") or (body.get("message") or {}).get("ts", ""))
    actions = body.get("actions") or [{}]
    token = str(actions[0].get("value", ""))
    result = check_clicked(ctx, user=user, channel=channel, token=token, message_ts=message_ts)
    if isinstance(result, Refusal):
        respond(response_type="ephemeral", replace_original=False, text=result.text)
