"""Approve / Deny / Mark done on an approval card: roles, the two-person rule and expiry
first, then one compare-and-set that only the first decision wins."""

from __future__ import annotations

import enum
import json
from typing import Any

from bot.auth import Role
from bot.store.approvals import ApprovalRecord, State
from bot.store.audit import AuditAction, AuditRecord
from bot.store.tokens import TokenKind
from bot.usecases.approvals.common import (
    BOT_USER,
    about,
    already,
    approvals,
    clean_reason,
    lease_values,
    refuse_fix,
    reload,
    update_card,
    valid_token,
)
from bot.usecases.approvals.execute import execute, recheck_after_runbook
from bot.usecases.context import BotContext
from bot.views import PromptKind, ReasonPrompt
from checks.fixes import FixMeta, Risk, get_fix


class Decision(enum.StrEnum):
    APPROVE = "approve"
    DENY = "deny"
    DONE = "done"


def _approval_of(
    ctx: BotContext, user: str, channel: str, token_value: str
) -> str | ApprovalRecord:
    token = valid_token(ctx, token_value, TokenKind.APPROVAL, channel)
    approval_id = str(token.payload.get("approval", "")) if token else ""
    approval = approvals(ctx).get(approval_id) if token else None
    if token is None or approval is None or approval.host != token.host:
        return refuse_fix(ctx, user, "that approval button is not valid (unknown or tampered)")
    return approval


def _may_deny(ctx: BotContext, user: str, approval: ApprovalRecord) -> bool:
    return ctx.authorizer.has(user, Role.APPROVER) or user == approval.requested_by


def prepare_deny(
    ctx: BotContext, *, user: str, channel: str, token_value: str, origin: dict[str, str]
) -> str | ReasonPrompt:
    """A Deny (or Cancel) click: the reason modal to open, or why it cannot be denied.
    ``origin`` (where the click came from) travels in the modal's metadata."""
    approval = _approval_of(ctx, user, channel, token_value)
    if isinstance(approval, str):
        return approval
    if not _may_deny(ctx, user, approval):
        return refuse_fix(
            ctx, user, "only an approver (or the requester) can deny this fix", **about(approval)
        )
    if approval.state is not State.REQUESTED:
        return already(ctx, approval.id)
    metadata = json.dumps({**origin, "token": token_value}, separators=(",", ":"))
    return ReasonPrompt(PromptKind.DENY, approval.host, get_fix(approval.fix_id), metadata)


def decide(
    ctx: BotContext,
    *,
    user: str,
    channel: str,
    decision: Decision,
    token_value: str,
    reason: str | None = None,
) -> str | None:
    """Returns a refusal text (shown to the user alone), or None when decided. ``reason``
    (typed in the deny modal) is kept with a denial and audited."""
    approval = _approval_of(ctx, user, channel, token_value)
    if isinstance(approval, str):
        return approval
    fix = get_fix(approval.fix_id)
    if decision is Decision.DENY:
        return _deny(ctx, user, approval, clean_reason(reason))
    if decision is Decision.DONE:
        return _mark_done(ctx, user, approval, fix)
    return _approve(ctx, user, approval, fix)


def _decide_once(
    ctx: BotContext,
    user: str,
    approval: ApprovalRecord,
    new: State,
    action: AuditAction,
    outcome: str,
    detail: str | None = None,
    **values: Any,
) -> bool:
    """requested -> ``new`` by compare-and-set, audited; False when someone was first."""
    now = ctx.now()
    if new.final:
        values["finished_at"] = now
    if not approvals(ctx).transition(
        approval.id, State.REQUESTED, new, decided_by=user, decided_at=now, **values
    ):
        return False
    ctx.record(
        AuditRecord(
            time=now, user=user, action=action, outcome=outcome, detail=detail, **about(approval)
        )
    )
    return True


def _deny(ctx: BotContext, user: str, approval: ApprovalRecord, reason: str | None) -> str | None:
    if not _may_deny(ctx, user, approval):
        return refuse_fix(
            ctx, user, "only an approver (or the requester) can deny this fix", **about(approval)
        )
    if approval.expires_at <= ctx.now() and expire(ctx, approval):
        return refuse_fix(ctx, user, "this request had already expired", **about(approval))
    if not _decide_once(
        ctx,
        user,
        approval,
        State.DENIED,
        AuditAction.FIX_DENIED,
        "denied",
        detail=f"reason: {reason}" if reason else None,
        # the approval's result JSON holds the reason: a denied fix has no other result
        result={"deny_reason": reason} if reason else None,
    ):
        return already(ctx, approval.id)
    update_card(ctx, reload(ctx, approval.id))
    return None


def _mark_done(ctx: BotContext, user: str, approval: ApprovalRecord, fix: FixMeta) -> str | None:
    if fix.risk is not Risk.MANUAL:
        return refuse_fix(ctx, user, "only manual fixes can be marked done", **about(approval))
    if not (ctx.authorizer.has(user, Role.OPERATOR) or ctx.authorizer.has(user, Role.APPROVER)):
        return refuse_fix(
            ctx,
            user,
            "you need the operator or approver role to mark a runbook done",
            **about(approval),
        )
    if approval.expires_at <= ctx.now():
        expire(ctx, approval)
        return refuse_fix(
            ctx, user, "this request has expired; request the fix again", **about(approval)
        )
    if not _decide_once(
        ctx,
        user,
        approval,
        State.SUCCEEDED,
        AuditAction.FIX_MARKED_DONE,
        "marked_done",
        result={"manual": True},
    ):
        return already(ctx, approval.id)
    fresh = reload(ctx, approval.id)
    update_card(ctx, fresh, note="runbook marked done; re-checking")
    ctx.worker.submit(recheck_after_runbook(ctx, fresh, fix, user))
    return None


def _approve(ctx: BotContext, user: str, approval: ApprovalRecord, fix: FixMeta) -> str | None:
    facts = about(approval)
    if not ctx.authorizer.has(user, Role.APPROVER):
        return refuse_fix(ctx, user, "you need the approver role to approve fixes", **facts)
    if fix.risk is Risk.MANUAL:
        return refuse_fix(
            ctx,
            user,
            "manual fixes are not run by the bot: follow the runbook, then press Mark done",
            **facts,
        )
    settings = ctx.services.settings.approvals
    if (
        settings.two_person_rule
        and fix.id not in settings.self_approval_allowed
        and user == approval.requested_by
    ):
        return refuse_fix(
            ctx,
            user,
            "you requested this fix; a different approver must approve it (two-person rule)",
            **facts,
        )
    if approval.expires_at <= ctx.now():
        expire(ctx, approval)
        return refuse_fix(ctx, user, "this request has expired; request the fix again", **facts)
    if not _decide_once(
        ctx,
        user,
        approval,
        State.APPROVED,
        AuditAction.FIX_APPROVED,
        "approved",
        **lease_values(ctx),
    ):
        return already(ctx, approval.id)
    # the buttons go at once: nobody can act on this card again
    update_card(ctx, reload(ctx, approval.id), state="running", note="running…")
    ctx.worker.submit(execute(ctx, approval.id))
    return None


def expire(ctx: BotContext, approval: ApprovalRecord) -> bool:
    """requested -> expired (by compare-and-set); the card says so."""
    if not approvals(ctx).transition(
        approval.id, State.REQUESTED, State.EXPIRED, finished_at=ctx.now()
    ):
        return False
    ctx.record(
        AuditRecord(
            time=ctx.now(),
            user=BOT_USER,
            action=AuditAction.FIX_EXPIRED,
            outcome="expired",
            **about(approval),
        )
    )
    update_card(ctx, reload(ctx, approval.id), note="expired before anyone approved it")
    return True
