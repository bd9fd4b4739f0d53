"""Batch buttons: a digest cause group's "Fix these hosts", and the batch card's Approve,
Deny, Pause, Resume and Abort. Ack at once; refusals are ephemeral (and audited by the use
case); buttons carry only opaque tokens."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond

from bot.slack import ids
from bot.slack.blocks.common import refusal as refusal_message
from bot.slack.listeners.payloads import clicked
from bot.usecases.batch.decide import BatchDecision, decide_batch
from bot.usecases.batch.request import request_from_digest
from bot.usecases.context import BotContext

DECISIONS = {
    ids.BATCH_APPROVE: BatchDecision.APPROVE,
    ids.BATCH_DENY: BatchDecision.DENY,
    ids.BATCH_PAUSE: BatchDecision.PAUSE,
    ids.BATCH_RESUME: BatchDecision.RESUME,
    ids.BATCH_ABORT: BatchDecision.ABORT,
}


def _tell(respond: Respond, text: str | None) -> None:
    if text:
        respond(
            response_type="ephemeral",
            replace_original=False,
            **refusal_message(text).as_kwargs(),
        )


def register(app: App, ctx: BotContext) -> None:
    @app.action(ids.BATCH_DIGEST)
    def fix_these_hosts(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> None:
        ack()
        click = clicked(body, action)
        _tell(
            respond,
            request_from_digest(
                ctx,
                user=click.user,
                channel=click.channel,
                message_ts=click.message_ts,
                token_value=click.value,
            ),
        )

    @app.action(ids.BATCH_PATTERN)
    def batch_card(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> None:
        ack()
        click = clicked(body, action)
        _tell(
            respond,
            decide_batch(
                ctx,
                user=click.user,
                channel=click.channel,
                decision=DECISIONS[click.action_id],
                token_value=click.value,
            ),
        )
