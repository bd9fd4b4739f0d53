"""An operator presses "Request fix" on a check result: the approval card is posted in
the result's thread, naming what will change and what the host shows now."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from bot.auth import Role
from bot.chat import ChatError
from bot.store.approvals import State
from bot.store.audit import AuditAction, AuditRecord
from bot.store.tokens import TokenData, TokenKind
from bot.usecases.approvals.common import (
    REASON_KEY,
    approvals,
    card,
    clean_reason,
    dig,
    refuse_fix,
    valid_token,
)
from bot.usecases.context import BotContext
from bot.views import PromptKind, ReasonPrompt
from checks.errors import UsageError
from checks.fixes import FixMeta, get_fix
from handlers.target import HostTarget

log = logging.getLogger(__name__)

#: approval buttons keep answering "expired" (not "unknown") this long after expiry
TOKEN_GRACE = timedelta(days=7)


def _checked(
    ctx: BotContext, *, user: str, channel: str, fix_id: str, token_value: str
) -> str | tuple[TokenData, FixMeta, HostTarget]:
    """The button's token, fix and host once every check passed; or the refusal text."""
    token = valid_token(ctx, token_value, TokenKind.FIX_REQUEST, channel)
    if token is None or token.payload.get("fix") != fix_id:
        return refuse_fix(
            ctx,
            user,
            "that button is not valid here (unknown or tampered); run `/wsus check <host>` again",
        )
    host = token.host or ""
    now = ctx.now()
    if token.expires_at < now:
        return refuse_fix(
            ctx,
            user,
            f"that check result is too old to act on; run `/wsus check {host}` again",
            host=host,
            fix=fix_id,
        )
    if not ctx.authorizer.has(user, Role.OPERATOR):
        return refuse_fix(
            ctx,
            user,
            "you need the operator role to request fixes; ask a wsusbot "
            "admin to add you to [roles] operators",
            host=host,
            fix=fix_id,
        )
    try:
        fix = get_fix(fix_id)
        target = ctx.services.inventory.resolve(host)
    except UsageError as exc:
        return refuse_fix(ctx, user, str(exc), host=host, fix=fix_id)
    return token, fix, target


def prepare_request(
    ctx: BotContext, *, user: str, channel: str, fix_id: str, token_value: str, message_ts: str
) -> str | ReasonPrompt:
    """A "Request fix" click: the reason modal to open, or why nothing can be requested
    (the same checks :func:`request_fix` makes again when the modal is submitted)."""
    checked = _checked(ctx, user=user, channel=channel, fix_id=fix_id, token_value=token_value)
    if isinstance(checked, str):
        return checked
    _token, fix, target = checked
    metadata = json.dumps(
        {"token": token_value, "fix": fix.id, "channel": channel, "ts": message_ts},
        separators=(",", ":"),
    )
    return ReasonPrompt(PromptKind.REQUEST, target.name, fix, metadata)


def request_fix(
    ctx: BotContext,
    *,
    user: str,
    channel: str,
    message_ts: str,
    fix_id: str,
    token_value: str,
    reason: str | None = None,
) -> str | None:
    """Returns a refusal text (shown to the user alone), or None when the card is posted.
    ``reason`` (typed in the request modal) is kept with the approval and audited."""
    checked = _checked(ctx, user=user, channel=channel, fix_id=fix_id, token_value=token_value)
    if isinstance(checked, str):
        return checked
    token, fix, target = checked
    host = token.host or ""
    now = ctx.now()
    reason = clean_reason(reason)
    # one request per check result: a double click or a second operator must not open two
    marker = f"fix_request:{token_value}"
    if not ctx.services.markers.claim(marker, now, token.expires_at):
        return refuse_fix(
            ctx,
            user,
            "a request for this fix from this check result is already "
            "open in the thread; use its card, or run the check again",
            host=host,
            fix=fix_id,
        )
    facts = ctx.services.runs.previous_facts(target.name) or {}
    facts_seen = {path: dig(facts, path) for path in fix.card_facts}
    context: dict[str, Any] = dict(facts_seen)
    if reason:
        context[REASON_KEY] = reason
    expiry = timedelta(minutes=ctx.services.settings.approvals.expiry_minutes)
    approval = approvals(ctx).create(
        host=target.name,
        fix_id=fix.id,
        requested_by=user,
        now=now,
        expires_at=now + expiry,
        channel=channel,
        thread_ts=message_ts,
        run_id=token.payload.get("run_id"),
        context=context,
    )
    approval_token = ctx.services.tokens.issue(
        TokenKind.APPROVAL,
        host=approval.host,
        payload={"approval": approval.id},
        channel=channel,
        now=now,
        expires_at=approval.expires_at + TOKEN_GRACE,
    )
    try:
        ts = ctx.chat.post(channel, card(approval, fix, token=approval_token), thread_ts=message_ts)
    except ChatError as exc:
        # nobody can see the card: withdraw the request and let the button work again
        approvals(ctx).transition(
            approval.id,
            State.REQUESTED,
            State.WITHDRAWN,
            finished_at=now,
            error=f"the request card could not be posted: {exc.code}",
        )
        ctx.services.markers.release(marker)
        log.warning("approval card for %s could not be posted: %s", approval.id, exc.code)
        return refuse_fix(
            ctx,
            user,
            f"Slack refused the fix request card ({exc.code}); nothing was requested. "
            "Press the button again in a moment.",
            host=approval.host,
            fix=fix.id,
            approval=approval.id,
        )
    approvals(ctx).set_message(approval.id, ts)
    ctx.record(
        AuditRecord(
            time=now,
            user=user,
            action=AuditAction.FIX_REQUESTED,
            host=approval.host,
            fix=fix.id,
            approval=approval.id,
            before=facts_seen or None,
            outcome="requested",
            detail=f"reason: {reason}" if reason else None,
        )
    )
    return None
