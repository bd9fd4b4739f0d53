"""Batches and restarts, expiry and follow-ups (due work, every 15 s).

A batch whose executor is gone (its lease lapsed; with SQLite, any after a restart) is
never resumed silently: it waits for an approver's "Confirm and resume", and a host whose
step had started is recorded unverified (its outcome is unknown) and never run again.
Follow-ups run per host when due; each batch's are summarised once in its thread."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from bot.store.audit import AuditAction
from bot.store.batches import BatchState, StepRecord, StepState
from bot.usecases.approvals.common import BOT_USER
from bot.usecases.approvals.execute import followup_check
from bot.usecases.batch.common import (
    audit,
    batches,
    reload,
    say,
    update_card,
)
from bot.usecases.batch.decide import expire
from bot.usecases.context import BotContext
from checks.followup import FollowupOutcome

UNKNOWN_STEP = (
    "the bot stopped while this host's fix was running: it may or may not have run, and "
    "it is never run again"
)
#: follow-up checks run at the same time
FOLLOWUP_CONCURRENCY = 8


def recover_batches(ctx: BotContext, *, at_startup: bool = False) -> None:
    store = batches(ctx)
    now = ctx.now()
    everything = at_startup and ctx.services.single_process
    live = (BatchState.RUNNING, BatchState.APPROVED, BatchState.PAUSED)
    for batch in store.in_states(*live):
        if not everything and batch.lease_until is not None and batch.lease_until > now:
            continue
        unknown = store.abandon_started(batch.id, UNKNOWN_STEP, now=now)
        for host in unknown:
            audit(
                ctx,
                batch,
                BOT_USER,
                AuditAction.BATCH_HOST,
                outcome="unverified",
                host=host,
                detail=UNKNOWN_STEP,
            )
        if batch.state is BatchState.PAUSED:
            if unknown:
                update_card(ctx, batch.id)
            continue
        if not store.transition(
            batch.id,
            batch.state,
            BatchState.AWAITING_CONFIRMATION,
            reason="the bot restarted mid-run; the remaining hosts wait for an approver",
        ):
            continue
        audit(
            ctx,
            batch,
            BOT_USER,
            AuditAction.BATCH_INTERRUPTED,
            outcome="awaiting_confirmation",
            detail=f"was {batch.state.value}; mid-step hosts: {', '.join(unknown) or 'none'}",
        )
        left = store.counts(batch.id)
        update_card(ctx, batch.id, note="waiting for an approver to confirm")
        fresh = reload(ctx, batch.id)
        say(
            ctx,
            fresh,
            f"batch `{batch.id}` was interrupted by a bot restart. "
            + (
                f"{len(unknown)} host(s) were mid-step ({', '.join(unknown)}): their outcome "
                "is unknown and they are not re-run. "
                if unknown
                else ""
            )
            + f"The remaining {left[StepState.PENDING]} host(s) wait: an approver presses "
            "*Confirm and resume* on the card (or Abort).",
        )


async def run_batch_due_work(ctx: BotContext) -> None:
    """Expire stale batch requests, then run the follow-ups that are due."""
    store = batches(ctx)
    # a follow-up is a read-only check: one cut short by a crash simply runs again
    stale = ctx.now() - timedelta(seconds=ctx.services.settings.runner.host_deadline_s + 120)
    await asyncio.to_thread(store.release_stale_followups, stale)
    for batch in await asyncio.to_thread(store.expired_requests, ctx.now()):
        await asyncio.to_thread(expire, ctx, batch)
    due = await asyncio.to_thread(store.claim_due_followups, ctx.now())
    if not due:
        return
    gate = asyncio.Semaphore(FOLLOWUP_CONCURRENCY)

    async def one(step: StepRecord) -> None:
        async with gate:
            await _followup(ctx, step)

    await asyncio.gather(*(one(step) for step in due))
    for batch_id in sorted({step.batch_id for step in due}):
        await asyncio.to_thread(summarise_followups, ctx, batch_id)


async def _followup(ctx: BotContext, step: StepRecord) -> None:
    verdict = await followup_check(ctx, step.host, step.context)
    store = batches(ctx)
    await asyncio.to_thread(store.finish_followup, step.id, verdict.outcome.value, verdict.text)
    batch = await asyncio.to_thread(reload, ctx, step.batch_id)
    await asyncio.to_thread(
        audit,
        ctx,
        batch,
        BOT_USER,
        AuditAction.BATCH_FOLLOWUP,
        outcome=verdict.outcome.value,
        host=step.host,
        detail=verdict.text,
        before=step.context or None,
    )


def summarise_followups(ctx: BotContext, batch_id: str) -> None:
    """Once every follow-up of a finished batch has run: one summary in its thread."""
    store = batches(ctx)
    batch = reload(ctx, batch_id)
    if not batch.state.final or not store.followups_done(batch_id):
        return
    if not store.claim_flag(batch_id, "followups_posted"):
        return
    steps = [s for s in store.steps(batch_id) if s.followup_state]
    tally = Counter(s.followup_outcome or "unknown" for s in steps)
    lines = [
        f"follow-ups of batch `{batch.id}` ({batch.fix_id}, the re-check after the fix and "
        f"the {ctx.services.thresholds.lwt_jump_hours:g}-hour LastWaitTimeout rule): "
        f"recovered {tally[FollowupOutcome.RECOVERED.value]} · "
        f"not recovered {tally[FollowupOutcome.NOT_RECOVERED.value]} · "
        f"unknown {tally[FollowupOutcome.UNKNOWN.value]}"
    ]
    bad = [s for s in steps if s.followup_outcome != FollowupOutcome.RECOVERED.value]
    lines += [f"• {s.followup_detail or s.host}" for s in bad[:10]]
    if len(bad) > 10:
        lines.append(f"… and {len(bad) - 10} more (see the audit export)")
    say(ctx, batch, "\n".join(lines))
