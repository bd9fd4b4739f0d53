"""What the approval steps share: refusals, the card view, thread notes, reloads.

Every transition is a compare-and-set in the database (``ApprovalStore.transition``,
allowed moves in ``bot.store.approvals.TRANSITIONS``), so double clicks, Slack retries,
stale messages and replicas can never run a fix twice. Every step is audited."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from bot.chat import ChatError
from bot.store.approvals import ApprovalRecord, ApprovalStore
from bot.store.audit import AuditAction, AuditRecord
from bot.store.tokens import TokenData, TokenKind
from bot.usecases.context import BotContext
from bot.views import ApprovalView, Notice
from checks.errors import CollectionError, WsusbotError
from checks.fixes import FixMeta, get_fix

log = logging.getLogger(__name__)

#: the user name audit rows carry for what the bot does on its own
BOT_USER = "wsusbot"
#: where the requester's reason is kept: the approval's context JSON (no migration), a
#: key without a dot so it can never be taken for a facts path
REASON_KEY = "reason"
#: the longest reason kept (the modal refuses more; a tampered client is cut here)
REASON_MAX = 500
#: the shortest reason the modal takes
REASON_MIN = 3
#: how long a fix's lease lasts unless renewed; due work (every 15 s) interrupts a fix
#: whose lease lapsed, so a dead replica's fix is reported within LEASE + 15 s < 60 s
LEASE = timedelta(seconds=30)
RENEW_EVERY_S = 10.0


def lease_values(ctx: BotContext) -> dict[str, Any]:
    """The columns that make this replica the holder of a fix's lease."""
    return {"lease_owner": ctx.replica, "lease_until": ctx.now() + LEASE}


@asynccontextmanager
async def renewing(ctx: BotContext, renew: Callable[[datetime], bool]) -> AsyncIterator[None]:
    """Renew a lease every RENEW_EVERY_S while the block runs: ``renew(until)`` is the
    store's compare-and-set; once it says the lease is lost, renewing stops (the holder is
    gone or replaced, and the due work reports it). Single fixes and batches both."""

    async def keep() -> None:
        while True:
            await asyncio.sleep(RENEW_EVERY_S)
            if not await asyncio.to_thread(renew, ctx.now() + LEASE):
                return

    task = asyncio.get_running_loop().create_task(keep())
    try:
        yield
    finally:
        task.cancel()


def lease_kept(ctx: BotContext, approval_id: str) -> AbstractAsyncContextManager[None]:
    """Renew this replica's lease on a fix while the block runs (the fix, its re-check)."""
    return renewing(ctx, functools.partial(approvals(ctx).renew_lease, approval_id, ctx.replica))


def approvals(ctx: BotContext) -> ApprovalStore:
    return ctx.services.approvals


def about(approval: ApprovalRecord) -> dict[str, Any]:
    """The audit fields that name an approval."""
    return {"host": approval.host, "fix": approval.fix_id, "approval": approval.id}


def refuse_fix(
    ctx: BotContext,
    user: str,
    text: str,
    *,
    host: str | None = None,
    fix: str | None = None,
    approval: str | None = None,
    action: AuditAction = AuditAction.FIX_REFUSED,
) -> str:
    """Audit a refused fix (or batch: ``action``) and return the text shown to the user
    alone."""
    ctx.record(
        AuditRecord(
            time=ctx.now(),
            user=user,
            action=action,
            host=host,
            fix=fix,
            approval=approval,
            outcome="refused",
            detail=text,
        )
    )
    return text


def fix_failure(exc: WsusbotError) -> tuple[str, bool]:
    """Why a fix run failed (the collection reason, else the error's kind), and whether its
    command had reached the host (then it may have run, and it is never retried)."""
    if isinstance(exc, CollectionError):
        return exc.reason, exc.delivered
    return type(exc).__name__, False


def valid_token(ctx: BotContext, value: str, kind: TokenKind, channel: str) -> TokenData | None:
    token = ctx.services.tokens.get(value)
    if token is None or token.kind != kind or token.channel != channel:
        return None
    return token


def dig(data: Any, path: str) -> Any:
    """The value at a dotted facts path (``au.AUState``), or None."""
    for part in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def facts_of(approval: ApprovalRecord) -> dict[str, Any]:
    """The host facts the request recorded (its context without the reason)."""
    return {k: v for k, v in approval.context.items() if k != REASON_KEY}


def clean_reason(text: str | None) -> str | None:
    """A typed reason trimmed and cut to REASON_MAX; None when empty."""
    if text is None:
        return None
    cleaned = " ".join(text.split())[:REASON_MAX]
    return cleaned or None


def card(
    approval: ApprovalRecord, fix: FixMeta, *, token: str | None = None, **changes: Any
) -> ApprovalView:
    """The approval card for a record; ``changes`` override what the record says."""
    current = tuple(
        f"{path.rsplit('.', 1)[-1]}={value}"
        # facts are dotted paths (``policy.AUOptions``); the reason, also in the context,
        # is not one
        for path, value in approval.context.items()
        if path.count(".") and value is not None
    )
    reason = approval.context.get(REASON_KEY)
    denied = (approval.result or {}).get("deny_reason")
    values: dict[str, Any] = {
        "approval_id": approval.id,
        "host": approval.host,
        "fix": fix,
        "state": approval.state.value,
        "requested_by": approval.requested_by,
        "expires_at": approval.expires_at,
        "current": current,
        "decided_by": approval.decided_by,
        "error": approval.error,
        "token": token,
        "request_reason": str(reason) if reason else None,
        "deny_reason": str(denied) if denied else None,
    }
    if approval.result:
        values["before"] = approval.result.get("before")
        values["after"] = approval.result.get("after")
        values["verification"] = tuple(approval.result.get("verification") or ())
    values.update(changes)
    return ApprovalView(**values)


def update_card(ctx: BotContext, approval: ApprovalRecord, **changes: Any) -> None:
    """Redraw the card without buttons (a decided card can never be acted on again)."""
    if not (approval.channel and approval.message_ts):
        return
    try:
        ctx.chat.update(
            approval.channel,
            approval.message_ts,
            card(approval, get_fix(approval.fix_id), **changes),
        )
    except ChatError as exc:
        log.warning("updating approval card %s failed: %s", approval.id, exc.code)


def say_in_thread(ctx: BotContext, approval: ApprovalRecord, text: str) -> None:
    if not approval.channel:
        return
    try:
        ctx.chat.post(
            approval.channel, Notice(text), thread_ts=approval.thread_ts or approval.message_ts
        )
    except ChatError as exc:
        log.warning("thread post for %s failed: %s", approval.id, exc.code)


def reload(ctx: BotContext, approval_id: str) -> ApprovalRecord:
    approval = approvals(ctx).get(approval_id)
    assert approval is not None
    return approval


def already(ctx: BotContext, approval_id: str) -> str:
    """Why a decision lost its compare-and-set: someone else decided first."""
    current = approvals(ctx).get(approval_id)
    state = current.state.value if current else "gone"
    who = f" by <@{current.decided_by}>" if current and current.decided_by else ""
    return f"this fix request is already {state}{who}; nothing was done"
