"""The batch card's buttons: Approve / Deny (roles, the two-person rule, expiry, then one
compare-and-set only the first click wins), Pause / Resume / Abort (approvers), and
"Confirm and resume" after a restart (Resume from awaiting confirmation)."""

from __future__ import annotations

import enum
import secrets

from bot.auth import Role
from bot.store.audit import AuditAction
from bot.store.batches import BatchRecord, BatchState
from bot.store.tokens import TokenKind
from bot.usecases.approvals.common import BOT_USER, LEASE, valid_token
from bot.usecases.batch.common import (
    audit,
    batches,
    reload,
    update_card,
)
from bot.usecases.batch.execute import execute, finish, run_batch
from bot.usecases.batch.request import proposing, refuse_batch
from bot.usecases.context import BotContext


class BatchDecision(enum.StrEnum):
    APPROVE = "approve"
    DENY = "deny"
    PAUSE = "pause"
    RESUME = "resume"
    ABORT = "abort"


def new_owner(ctx: BotContext) -> str:
    """An executor's name: this replica plus a generation, so a Resume retires a loop
    that is still finishing its in-flight hosts."""
    return f"{ctx.replica}:{secrets.token_hex(4)}"


def decide_batch(
    ctx: BotContext, *, user: str, channel: str, decision: BatchDecision, token_value: str
) -> str | None:
    """Returns a refusal text (shown to the user alone), or None when done."""
    token = valid_token(ctx, token_value, TokenKind.BATCH, channel)
    batch = batches(ctx).get(str(token.payload.get("batch", ""))) if token else None
    if token is None or batch is None:
        return refuse_batch(ctx, user, "that batch button is not valid (unknown or tampered)")
    if decision is BatchDecision.DENY:
        return _deny(ctx, user, batch)
    if not ctx.authorizer.has(user, Role.APPROVER):
        return refuse_batch(
            ctx, user, f"you need the approver role to {decision.value} a batch", fix=batch.fix_id
        )
    if decision is BatchDecision.APPROVE:
        return _approve(ctx, user, batch)
    if decision is BatchDecision.PAUSE:
        return _pause(ctx, user, batch)
    if decision is BatchDecision.RESUME:
        return _resume(ctx, user, batch)
    return _abort(ctx, user, batch)


def _already(ctx: BotContext, batch_id: str) -> str:
    current = reload(ctx, batch_id)
    who = current.actor or current.decided_by
    by = f" by <@{who}>" if who else ""
    return f"this batch is already {current.state.value.replace('_', ' ')}{by}; nothing was done"


def _approve(ctx: BotContext, user: str, batch: BatchRecord) -> str | None:
    settings = ctx.services.settings.approvals
    if (
        settings.two_person_rule
        and batch.fix_id not in settings.self_approval_allowed
        and user == batch.requested_by
    ):
        return refuse_batch(
            ctx,
            user,
            "you requested this batch; a different approver must approve it (two-person rule)",
            fix=batch.fix_id,
        )
    now = ctx.now()
    if batch.state is BatchState.REQUESTED and batch.expires_at <= now:
        expire(ctx, batch)
        return refuse_batch(ctx, user, "this batch request has expired; request it again")
    owner = new_owner(ctx)
    if not batches(ctx).transition(
        batch.id,
        BatchState.REQUESTED,
        BatchState.APPROVED,
        decided_by=user,
        decided_at=now,
        lease_owner=owner,
        lease_until=now + LEASE,
    ):
        return _already(ctx, batch.id)
    audit(ctx, batch, user, AuditAction.BATCH_APPROVED, outcome="approved")
    # approval time: a host whose latest check no longer proposes the fix is left alone
    steps = batches(ctx).steps(batch.id)
    _, stale = proposing(ctx, batch.fix_id, [s.host for s in steps])
    if stale:
        skipped = batches(ctx).skip_pending(
            batch.id,
            "its latest check no longer proposes this fix (re-checked at approval)",
            now=now,
            hosts=stale,
        )
        for host in skipped:
            audit(
                ctx,
                batch,
                BOT_USER,
                AuditAction.BATCH_HOST,
                outcome="skipped",
                host=host,
                detail="no longer proposed at approval",
            )
    update_card(ctx, batch.id, note="approved; the canary runs first")
    ctx.worker.submit(execute(ctx, batch.id, owner))
    return None


def _deny(ctx: BotContext, user: str, batch: BatchRecord) -> str | None:
    if not (ctx.authorizer.has(user, Role.APPROVER) or user == batch.requested_by):
        return refuse_batch(
            ctx, user, "only an approver (or the requester) can deny this batch", fix=batch.fix_id
        )
    now = ctx.now()
    if not batches(ctx).transition(
        batch.id,
        BatchState.REQUESTED,
        BatchState.DENIED,
        decided_by=user,
        decided_at=now,
        finished_at=now,
    ):
        return _already(ctx, batch.id)
    batches(ctx).skip_pending(batch.id, "the batch was denied", now=now)
    audit(ctx, batch, user, AuditAction.BATCH_DENIED, outcome="denied")
    update_card(ctx, batch.id)
    return None


def _pause(ctx: BotContext, user: str, batch: BatchRecord) -> str | None:
    if not batches(ctx).transition(batch.id, BatchState.RUNNING, BatchState.PAUSED, actor=user):
        return _already(ctx, batch.id)
    audit(ctx, batch, user, AuditAction.BATCH_PAUSED, outcome="paused")
    update_card(ctx, batch.id, note="paused: hosts already started finish; no new host starts")
    return None


def _resume(ctx: BotContext, user: str, batch: BatchRecord) -> str | None:
    now = ctx.now()
    owner = new_owner(ctx)
    confirming = batch.state is BatchState.AWAITING_CONFIRMATION
    if not batches(ctx).transition(
        batch.id,
        (BatchState.PAUSED, BatchState.AWAITING_CONFIRMATION),
        BatchState.RUNNING,
        actor=user,
        lease_owner=owner,
        lease_until=now + LEASE,
    ):
        return _already(ctx, batch.id)
    audit(
        ctx,
        batch,
        user,
        AuditAction.BATCH_RESUMED,
        outcome="confirmed" if confirming else "resumed",
    )
    update_card(ctx, batch.id, note="resumed: the remaining hosts run")
    ctx.worker.submit(run_batch(ctx, batch.id, owner))
    return None


def _abort(ctx: BotContext, user: str, batch: BatchRecord) -> str | None:
    now = ctx.now()
    if not batches(ctx).transition(
        batch.id,
        (
            BatchState.APPROVED,
            BatchState.RUNNING,
            BatchState.PAUSED,
            BatchState.AWAITING_CONFIRMATION,
        ),
        BatchState.ABORTED,
        actor=user,
        finished_at=now,
        reason=f"aborted by {user}",
    ):
        return _already(ctx, batch.id)
    batches(ctx).skip_pending(batch.id, "not run: the batch was aborted", now=now)
    audit(ctx, batch, user, AuditAction.BATCH_ABORTED, outcome="aborted")
    update_card(ctx, batch.id, note="aborted: hosts already started finish; nothing else runs")
    ctx.worker.submit(finish(ctx, batch.id))
    return None


def expire(ctx: BotContext, batch: BatchRecord) -> bool:
    """requested -> expired (by compare-and-set); the card says so."""
    now = ctx.now()
    if not batches(ctx).transition(
        batch.id, BatchState.REQUESTED, BatchState.EXPIRED, finished_at=now
    ):
        return False
    batches(ctx).skip_pending(batch.id, "the request expired", now=now)
    audit(ctx, batch, BOT_USER, AuditAction.BATCH_EXPIRED, outcome="expired")
    update_card(ctx, batch.id, note="expired before anyone approved it")
    return True
