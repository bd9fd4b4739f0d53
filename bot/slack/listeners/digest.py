"""The digest's "Check" buttons: ack at once, then run the check in the digest's thread."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond

from bot.slack import ids
from bot.slack.blocks.common import refusal as refusal_message
from bot.slack.listeners.payloads import clicked
from bot.usecases.context import BotContext
from bot.usecases.digest import check_clicked
from bot.views import Refusal


def register(app: App, ctx: BotContext) -> None:
    @app.action(ids.DIGEST_CHECK)
    def digest_check(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        handle_click(ctx, body, respond)


def handle_click(ctx: BotContext, body: dict[str, Any], respond: Respond) -> None:
    click = clicked(body)
    result = check_clicked(
        ctx, user=click.user, channel=click.channel, token=click.value, message_ts=click.message_ts
    )
    if isinstance(result, Refusal):
        respond(
            response_type="ephemeral",
            replace_original=False,
            **refusal_message(result.text, result.channels).as_kwargs(),
        )
