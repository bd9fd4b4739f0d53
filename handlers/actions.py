"""Button clicks: fix requests and approval decisions. Ack at once; refusals are
ephemeral (and audited by the flow); buttons carry only opaque tokens."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.flows import fix_flow
from bot.flows.context import BotContext

log = logging.getLogger(__name__)

_MAX_VALUE = 128


def clicked(body: dict[str, Any], action: dict[str, Any]) -> tuple[str, str, str, str, str]:
    """(user, channel, message ts, action id, value) of a block_actions click; the value is
    cut to a token's size, whatever a tampered client sends."""
    user = str((body.get("user") or {}).get("id", ""))
    channel = str((body.get("channel") or {}).get("id", ""))
    message_ts = str((body.get("container") or {}).get("message_ts", "")) or str(
        (body.get("message") or {}).get("ts", "")
    )
    value = str(action.get("value") or "")[:_MAX_VALUE]
    return user, channel, message_ts, str(action.get("action_id", "")), value


def register(app: App, ctx: BotContext) -> None:
    @app.action(re.compile(r"^fix_request:[a-z0-9_.]+$"))
    def fix_request(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond
    ) -> None:
        ack()
        user, channel, message_ts, action_id, value = clicked(body, action)
        refusal = fix_flow.request_fix(
            ctx,
            user=user,
            channel=channel,
            message_ts=message_ts,
            action_id=action_id,
            token_value=value,
        )
        if refusal:
            respond(response_type="ephemeral", replace_original=False, text=refusal)

    @app.action(re.compile(r"^approval_(approve|deny|done)$"))
    def approval(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        ack()
        user, channel, _ts, action_id, value = clicked(body, action)
        refusal = fix_flow.decide(
            ctx, user=user, channel=channel, action_id=action_id, token_value=value
        )
        if refusal:
            respond(response_type="ephemeral", replace_original=False, text=refusal)
