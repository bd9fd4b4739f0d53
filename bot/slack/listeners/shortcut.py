"""The message shortcut "Check this host" (``message_action`` payloads, matched by
callback_id: https://api.slack.com/reference/interaction-payloads/shortcuts)."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond

from bot.slack import ids
from bot.slack.blocks.common import refusal as refusal_message
from bot.usecases.context import BotContext
from bot.usecases.shortcut import check_from_message
from bot.views import Refusal

MAX_TEXT = 40_000


def register(app: App, ctx: BotContext) -> None:
    @app.shortcut(ids.CHECK_SHORTCUT)
    def check_this_host(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        user = str((body.get("user") or {}).get("id", ""))
        channel = str((body.get("channel") or {}).get("id", ""))
        message = body.get("message") or {}
        # a reply's check goes in its thread; a top-level message gets a thread of its own
        thread = str(message.get("thread_ts") or message.get("ts") or "")
        result = check_from_message(
            ctx,
            user=user,
            channel=channel,
            message_ts=thread,
            text=str(message.get("text") or "")[:MAX_TEXT],
        )
        if isinstance(result, Refusal):
            respond(
                response_type="ephemeral",
                replace_original=False,
                **refusal_message(result.text, result.channels).as_kwargs(),
            )
