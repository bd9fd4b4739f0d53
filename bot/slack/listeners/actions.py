"""Button clicks: fix requests and approval decisions. Ack at once; refusals are
ephemeral (and audited by the use case); buttons carry only opaque tokens."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond

from bot.slack import ids
from bot.slack.blocks.common import refusal as refusal_message
from bot.slack.listeners.payloads import clicked
from bot.usecases.approvals.decide import Decision, decide
from bot.usecases.approvals.request import request_fix
from bot.usecases.context import BotContext

DECISIONS = {
    ids.APPROVAL_APPROVE: Decision.APPROVE,
    ids.APPROVAL_DENY: Decision.DENY,
    ids.APPROVAL_DONE: Decision.DONE,
}


def register(app: App, ctx: BotContext) -> None:
    @app.action(ids.FIX_REQUEST_PATTERN)
    def fix_request(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> None:
        ack()
        click = clicked(body, action)
        refusal = request_fix(
            ctx,
            user=click.user,
            channel=click.channel,
            message_ts=click.message_ts,
            fix_id=ids.fix_of_action(click.action_id),
            token_value=click.value,
        )
        if refusal:
            respond(
                response_type="ephemeral",
                replace_original=False,
                **refusal_message(refusal).as_kwargs(),
            )

    @app.action(ids.APPROVAL_PATTERN)
    def approval(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        click = clicked(body, action)
        refusal = decide(
            ctx,
            user=click.user,
            channel=click.channel,
            decision=DECISIONS[click.action_id],
            token_value=click.value,
        )
        if refusal:
            respond(
                response_type="ephemeral",
                replace_original=False,
                **refusal_message(refusal).as_kwargs(),
            )
