"""Button clicks: fix requests and approval decisions. Ack at once; refusals are
ephemeral (and audited by the use case); buttons carry only opaque tokens.

"Request fix" and "Deny" open a modal asking why (its submission is in
``listeners/modals.py``); Approve and Mark done act at once. The same approval buttons
on the App Home are bound to the clicking user's Home: a refusal there is shown at the
top of the Home, which is then redrawn.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.chat import ChatError
from bot.slack import ids
from bot.slack.blocks.common import refusal as refusal_message
from bot.slack.listeners.payloads import Click, clicked
from bot.usecases.approvals.decide import Decision, decide, prepare_deny
from bot.usecases.approvals.request import prepare_request
from bot.usecases.context import BotContext
from bot.usecases.home import home_scope, publish_home
from bot.views import ReasonPrompt

log = logging.getLogger(__name__)

DECISIONS = {
    ids.APPROVAL_APPROVE: Decision.APPROVE,
    ids.APPROVAL_DONE: Decision.DONE,
}
MODAL_FAILED_TEXT = "Slack did not open the form ({code}); press the button again"


def scope_of(click: Click) -> str:
    """The channel a click's token must be bound to: the message's, or the user's Home."""
    return home_scope(click.user) if click.in_view else click.channel


def tell(ctx: BotContext, click: Click, respond: Respond, text: str) -> None:
    """A refusal for the clicking user alone: ephemeral under a message, or on the Home."""
    if click.in_view:
        publish_home(ctx, click.user, notice=text)
        return
    respond(response_type="ephemeral", replace_original=False, **refusal_message(text).as_kwargs())


def open_prompt(
    ctx: BotContext, click: Click, respond: Respond, prompt: ReasonPrompt | str
) -> None:
    if isinstance(prompt, str):
        tell(ctx, click, respond, prompt)
        return
    try:
        ctx.chat.open_modal(click.trigger_id, prompt)
    except ChatError as exc:
        log.warning("views.open for %s failed: %s", click.action_id, exc.code)
        tell(ctx, click, respond, MODAL_FAILED_TEXT.format(code=exc.code))


def register(app: App, ctx: BotContext) -> None:
    @app.action(ids.FIX_REQUEST_PATTERN)
    def fix_request(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> None:
        ack()
        click = clicked(body, action)
        prompt = prepare_request(
            ctx,
            user=click.user,
            channel=click.channel,
            fix_id=ids.fix_of_action(click.action_id),
            token_value=click.value,
            message_ts=click.message_ts,
        )
        open_prompt(ctx, click, respond, prompt)

    @app.action(ids.APPROVAL_DENY)
    def deny(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        click = clicked(body, action)
        origin = {"channel": scope_of(click), "home": "1" if click.in_view else ""}
        prompt = prepare_deny(
            ctx, user=click.user, channel=scope_of(click), token_value=click.value, origin=origin
        )
        open_prompt(ctx, click, respond, prompt)

    @app.action(ids.APPROVAL_PATTERN)
    def approval(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        click = clicked(body, action)
        refusal = decide(
            ctx,
            user=click.user,
            channel=scope_of(click),
            decision=DECISIONS[click.action_id],
            token_value=click.value,
        )
        if click.in_view:
            # the decided request leaves the Home: redraw it (with the refusal, if any)
            publish_home(ctx, click.user, notice=refusal)
        elif refusal:
            tell(ctx, click, respond, refusal)
