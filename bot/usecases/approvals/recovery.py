"""Due work and restarts: expire stale requests, forget old button tokens, run the
follow-up checks that are due, and mark fixes a crash left mid-flight as interrupted
(never resumed)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from bot.store.approvals import ApprovalRecord, State
from bot.store.audit import AuditAction, AuditRecord
from bot.usecases.approvals.common import (
    BOT_USER,
    about,
    approvals,
    reload,
    say_in_thread,
    update_card,
)
from bot.usecases.approvals.decide import expire
from bot.usecases.approvals.execute import FIX_DEADLINE_S, followup_check
from bot.usecases.approvals.request import TOKEN_GRACE
from bot.usecases.batch.recovery import recover_batches, run_batch_due_work
from bot.usecases.check import interrupt_orphaned_checks
from bot.usecases.context import BotContext


async def run_due_followups(ctx: BotContext) -> None:
    """Expire stale requests, forget expired button tokens, and run the follow-up checks
    that are due (all by the bot's clock)."""
    store = approvals(ctx)
    await asyncio.to_thread(recover_after_restart, ctx)
    # keep expired tokens a while, so an old button still gets "too old", not "unknown"
    await asyncio.to_thread(ctx.services.tokens.purge, ctx.now() - TOKEN_GRACE)
    for approval in await asyncio.to_thread(store.expired_requests, ctx.now()):
        await asyncio.to_thread(expire, ctx, approval)
    await run_batch_due_work(ctx)
    for followup in await asyncio.to_thread(store.claim_due_followups, ctx.now()):
        verdict = await followup_check(ctx, followup.host, followup.before or {})
        await asyncio.to_thread(
            store.finish_followup,
            followup.id,
            verdict.outcome,
            now=ctx.now(),
            detail=verdict.text,
        )
        record: ApprovalRecord | None = await asyncio.to_thread(store.get, followup.approval_id)
        if record is not None:
            await asyncio.to_thread(say_in_thread, ctx, record, verdict.text)
        await asyncio.to_thread(
            ctx.record,
            AuditRecord(
                time=ctx.now(),
                user=BOT_USER,
                action=AuditAction.FOLLOWUP,
                host=followup.host,
                fix=record.fix_id if record else None,
                approval=followup.approval_id,
                outcome=verdict.outcome.value,
                before=followup.before,
                detail=verdict.text,
            ),
        )


def orphan_age(ctx: BotContext) -> timedelta:
    """For approvals without a lease (written before leases existed): how long one may
    stay approved/running while some replica still works on it: the fix's own deadline,
    the re-check's, and a margin. Older than that, nobody is."""
    runner = ctx.services.settings.runner
    return timedelta(seconds=FIX_DEADLINE_S + runner.host_deadline_s + 60)


def _still_worked_on(approval: ApprovalRecord, now: datetime, cutoff: datetime) -> bool:
    """A live replica holds the lease (or, for a row without one, it is younger than the
    orphan age)."""
    if approval.lease_until is not None:
        return approval.lease_until > now
    return approval.decided_at is not None and approval.decided_at > cutoff


def recover_after_restart(ctx: BotContext, *, at_startup: bool = False) -> None:
    """A crash may leave approvals mid-flight: never resume them, say so.

    Only orphans are touched: a fix whose lease lapsed (the replica that held it stopped
    renewing it); a live replica's fix, however long, keeps its lease renewed and is never
    touched. Rows without a lease fall back to :func:`orphan_age`. Called at start-up and
    by due work.
    """
    interrupt_orphaned_checks(ctx, at_startup=at_startup)
    store = approvals(ctx)
    now = ctx.now()
    cutoff = now - orphan_age(ctx)
    # a single-process store right after a restart: nothing of the old process still runs
    everything = at_startup and ctx.services.single_process
    for approval in store.in_states(State.RUNNING, State.APPROVED):
        if not everything and _still_worked_on(approval, now, cutoff):
            continue
        if not store.transition(
            approval.id,
            approval.state,
            State.INTERRUPTED,
            finished_at=ctx.now(),
            error="the bot stopped before this fix finished",
        ):
            continue
        ctx.record(
            AuditRecord(
                time=ctx.now(),
                user=BOT_USER,
                action=AuditAction.FIX_INTERRUPTED,
                outcome="interrupted",
                **about(approval),
                detail=f"was {approval.state.value}",
            )
        )
        fresh = reload(ctx, approval.id)
        update_card(
            ctx,
            fresh,
            note="interrupted by a bot restart; it will not be re-run — "
            "check the host, then request the fix again if needed",
        )
        say_in_thread(
            ctx,
            fresh,
            f"fix `{fresh.fix_id}` on {fresh.host} was interrupted by a "
            "bot restart (it may or may not have run); it is not re-run without a "
            "new approval",
        )
    # a follow-up is a read-only check: one cut short by a crash simply runs again
    store.release_stale_followups(cutoff)
    # batches: a lapsed executor's remaining hosts wait for an approver (never silently)
    recover_batches(ctx, at_startup=at_startup)
