"""Modal submissions: the reason for a fix request or a denial, and "Check a host".

A submission whose input is wrong is answered in the modal itself (``response_action:
errors``, https://api.slack.com/surfaces/modals#displaying_errors), which stays open; a
valid one is acked at once (the modal closes) and the use case runs after. Everything
the metadata carries is checked again by the use case: it is where the click came from,
never a permission.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.chat import ChatError
from bot.slack import ids
from bot.slack.listeners.payloads import Submission, metadata_fields, submitted
from bot.usecases.approvals.common import REASON_MAX, REASON_MIN
from bot.usecases.approvals.decide import Decision, decide
from bot.usecases.approvals.request import request_fix
from bot.usecases.context import BotContext
from bot.usecases.home import CheckInputErrors, check_from_home, check_input, publish_home
from bot.views import Refusal

REASON_TOO_SHORT = f"say why in a few words (at least {REASON_MIN} characters)"


def _reason_error(reason: str) -> str | None:
    if len(reason.strip()) < REASON_MIN:
        return REASON_TOO_SHORT
    if len(reason) > REASON_MAX:
        return f"keep it to {REASON_MAX} characters"
    return None


def _tell(ctx: BotContext, user: str, channel: str, text: str) -> None:
    """A refusal after a modal: to the user in the card's channel, else on their Home."""
    try:
        ctx.chat.ephemeral(channel, user, Refusal(text))
    except ChatError:
        publish_home(ctx, user, notice=text)


def _accepted_reason(ack: Ack, form: Submission) -> str | None:
    """The reason typed, acked; or None, with the problem shown in the modal."""
    reason = form.text(ids.REASON_BLOCK, ids.REASON_INPUT, REASON_MAX + 1)
    problem = _reason_error(reason)
    if problem:
        ack(response_action="errors", errors={ids.REASON_BLOCK: problem})
        return None
    ack()
    return reason


def register(app: App, ctx: BotContext) -> None:
    @app.view(ids.REQUEST_REASON_VIEW)
    def request_reason(ack: Ack, body: dict[str, Any]) -> None:
        form = submitted(body)
        reason = _accepted_reason(ack, form)
        if reason is None:
            return
        meta = metadata_fields(form.metadata)
        channel = meta.get("channel", "")
        refusal = request_fix(
            ctx,
            user=form.user,
            channel=channel,
            message_ts=meta.get("ts", ""),
            fix_id=meta.get("fix", ""),
            token_value=meta.get("token", ""),
            reason=reason,
        )
        if refusal:
            _tell(ctx, form.user, channel, refusal)

    @app.view(ids.DENY_REASON_VIEW)
    def deny_reason(ack: Ack, body: dict[str, Any]) -> None:
        form = submitted(body)
        reason = _accepted_reason(ack, form)
        if reason is None:
            return
        meta = metadata_fields(form.metadata)
        channel = meta.get("channel", "")
        home = bool(meta.get("home"))
        refusal = decide(
            ctx,
            user=form.user,
            channel=channel,
            decision=Decision.DENY,
            token_value=meta.get("token", ""),
            reason=reason,
        )
        if home:
            publish_home(ctx, form.user, notice=refusal)
        elif refusal:
            _tell(ctx, form.user, channel, refusal)

    @app.view(ids.CHECK_HOST_VIEW)
    def check_host(ack: Ack, body: dict[str, Any]) -> None:
        form = submitted(body)
        host = form.text(ids.HOST_BLOCK, ids.HOST_INPUT, 300)
        channel = form.conversation(ids.CHANNEL_BLOCK, ids.CHANNEL_INPUT)
        checked = check_input(ctx, form.user, host, channel)
        if isinstance(checked, CheckInputErrors):
            errors = {ids.HOST_BLOCK: checked.host, ids.CHANNEL_BLOCK: checked.channel}
            ack(
                response_action="errors",
                errors={block: text[:300] for block, text in errors.items() if text},
            )
            return
        ack()
        check_from_home(ctx, user=form.user, channel=channel, target=checked)
