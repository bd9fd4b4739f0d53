"""Run an approved batch: the canary first (its verifying checks must pass), then waves
of hosts, a few at a time, each within its deadline; halt when a wave's failures exceed
the threshold; stop starting hosts when paused or aborted. A host step is claimed by
compare-and-set before anything touches the host, and is never retried."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta
from typing import Any

from bot.store.audit import AuditAction
from bot.store.batches import BatchRecord, BatchState, StepRecord, StepState
from bot.usecases.approvals.common import BOT_USER, fix_failure
from bot.usecases.approvals.execute import FIX_DEADLINE_S, verify
from bot.usecases.batch.common import (
    audit,
    batches,
    lease_kept,
    reload,
    say,
    steps_csv,
    update_card,
    upload,
)
from bot.usecases.context import BotContext
from checks.errors import WsusbotError
from checks.fixes import FixMeta, get_fix

log = logging.getLogger(__name__)

#: how long past a canary's wait its lease lasts (the verifying check runs meanwhile)
WAIT_MARGIN = timedelta(minutes=2)
#: how often a pause between waves looks at the batch's state (Pause, Abort)
POLL_S = 0.25


async def execute(ctx: BotContext, batch_id: str, owner: str) -> None:
    """approved -> running, then the waves (the approval already took the lease)."""
    if not await asyncio.to_thread(
        batches(ctx).transition, batch_id, BatchState.APPROVED, BatchState.RUNNING
    ):
        return
    await run_batch(ctx, batch_id, owner)


async def run_batch(ctx: BotContext, batch_id: str, owner: str) -> None:
    async with lease_kept(ctx, batch_id, owner):
        try:
            await _waves(ctx, batch_id, owner)
        finally:
            await finish(ctx, batch_id)


def _mine(batch: BatchRecord, owner: str) -> bool:
    return batch.state is BatchState.RUNNING and batch.lease_owner == owner


async def _waves(ctx: BotContext, batch_id: str, owner: str) -> None:
    store = batches(ctx)
    batch = await asyncio.to_thread(reload, ctx, batch_id)
    fix = get_fix(batch.fix_id)
    plan = batch.plan
    steps = await asyncio.to_thread(store.steps, batch_id)
    ran_a_wave = False
    for wave in sorted({s.wave for s in steps}):
        steps = await asyncio.to_thread(store.steps, batch_id)
        if wave > 0:
            canary = [s for s in steps if s.wave == 0]
            if any(s.state is not StepState.FIXED for s in canary):
                await _halt(ctx, batch_id, _canary_reason(canary))
                return
        pending = [s for s in steps if s.wave == wave and s.state is StepState.PENDING]
        if not pending:
            continue
        if ran_a_wave and plan.pause_s and not await _pause(ctx, batch_id, owner, plan.pause_s):
            return
        batch = await asyncio.to_thread(reload, ctx, batch_id)
        if not _mine(batch, owner):
            return
        await asyncio.to_thread(update_card, ctx, batch_id)
        outcomes = await _run_wave(ctx, batch, fix, pending, owner)
        ran_a_wave = True
        await asyncio.to_thread(update_card, ctx, batch_id)
        # unverified hosts are not failures: their outcome is unknown (their follow-up tells)
        failed = [o for o in outcomes if o is StepState.FAILED]
        if wave == 0 and any(o is not StepState.FIXED for o in outcomes if o is not None):
            steps = await asyncio.to_thread(store.steps, batch_id)
            await _halt(ctx, batch_id, _canary_reason([s for s in steps if s.wave == 0]))
            return
        if wave > 0 and len(failed) > plan.failure_threshold:
            await _halt(
                ctx,
                batch_id,
                f"{len(failed)} of {len(pending)} hosts in wave {wave} failed, more than the "
                f"threshold of {plan.failure_threshold}",
            )
            return
        batch = await asyncio.to_thread(reload, ctx, batch_id)
        if not _mine(batch, owner):
            return
    counts = await asyncio.to_thread(store.counts, batch_id)
    if counts[StepState.PENDING] == 0 and counts[StepState.STARTED] == 0:
        now = ctx.now()
        if await asyncio.to_thread(
            store.transition, batch_id, BatchState.RUNNING, BatchState.COMPLETED, finished_at=now
        ):
            await asyncio.to_thread(
                audit, ctx, batch, BOT_USER, AuditAction.BATCH_COMPLETED, outcome="completed"
            )


def _canary_reason(canary: list[StepRecord]) -> str:
    bad = [s for s in canary if s.state is not StepState.FIXED]
    shown = "; ".join(f"{s.host}: {s.state.value} ({s.detail or 'no detail'})" for s in bad)
    return f"the canary did not pass, so no other host was touched — {shown}"


async def _pause(ctx: BotContext, batch_id: str, owner: str, seconds: float) -> bool:
    """Wait between waves; False as soon as the batch stops running under this owner."""
    end = time.monotonic() + seconds
    while True:
        batch = await asyncio.to_thread(reload, ctx, batch_id)
        if not _mine(batch, owner):
            return False
        left = end - time.monotonic()
        if left <= 0:
            return True
        await asyncio.sleep(min(POLL_S, left))


async def _halt(ctx: BotContext, batch_id: str, reason: str) -> None:
    store = batches(ctx)
    now = ctx.now()
    if not await asyncio.to_thread(
        store.transition,
        batch_id,
        BatchState.RUNNING,
        BatchState.HALTED,
        finished_at=now,
        reason=reason[:2000],
    ):
        return
    await asyncio.to_thread(store.skip_pending, batch_id, "not run: the batch halted", now=now)
    batch = await asyncio.to_thread(reload, ctx, batch_id)
    await asyncio.to_thread(
        audit, ctx, batch, BOT_USER, AuditAction.BATCH_HALTED, outcome="halted", detail=reason
    )
    await asyncio.to_thread(update_card, ctx, batch_id, note="halted automatically")


async def _run_wave(
    ctx: BotContext, batch: BatchRecord, fix: FixMeta, steps: list[StepRecord], owner: str
) -> list[StepState | None]:
    gate = asyncio.Semaphore(batch.plan.concurrency)

    async def one(step: StepRecord) -> StepState | None:
        async with gate:
            return await run_host(ctx, batch, fix, step, owner)

    return list(await asyncio.gather(*(one(s) for s in steps)))


def settle_minutes(ctx: BotContext, fix: FixMeta) -> int | None:
    """Minutes a fix takes to show (resetting the AU state: detection and self-update run
    6-10 minutes later), or None when its verifying checks can tell at once."""
    if not fix.followup_minutes:
        return None
    return ctx.services.settings.approvals.followup_minutes or fix.followup_minutes


async def run_host(
    ctx: BotContext, batch: BatchRecord, fix: FixMeta, step: StepRecord, owner: str
) -> StepState | None:
    """One host's step; None when it was not claimed (paused, aborted, another owner).

    The canary of a fix that takes minutes to show waits that long (by the bot's clock)
    before its verifying checks run, still ``started``: a crash meanwhile leaves it
    unverified, and the batch never goes on without a canary that passed."""
    store = batches(ctx)
    if not await asyncio.to_thread(store.claim_step, batch.id, step.host, owner, ctx.now()):
        return None
    user = batch.decided_by or BOT_USER
    deadline = batch.plan.host_deadline_s
    settle = settle_minutes(ctx, fix)
    canary = step.wave == 0
    ran: dict[str, object] | None = None
    try:
        state, detail, ran = await asyncio.wait_for(
            _fix(ctx, fix, batch.id, step.host), timeout=deadline
        )
    except TimeoutError:
        state, detail = StepState.UNVERIFIED, _past_deadline(deadline)
    if ran is not None:
        if canary and settle:
            # the wait is fixed before anyone is told about it
            until = ctx.now() + timedelta(minutes=settle)
            # alive all along the wait: the lease covers it, and the verifying check after
            # it (renewals never shorten it)
            await asyncio.to_thread(store.renew_lease, batch.id, owner, until + WAIT_MARGIN)
            await asyncio.to_thread(
                update_card,
                ctx,
                batch.id,
                note=f"the canary's fix ran; its verifying checks run in {settle} minutes, "
                "when its detection has run (self-update takes 6-10)",
            )
            await _wait_clock(ctx, batch.id, until)
        try:
            state, detail = await asyncio.wait_for(
                _verify(ctx, fix, step.host, user, ran, delayed=bool(settle) and not canary),
                timeout=deadline,
            )
        except TimeoutError:
            state, detail = StepState.UNVERIFIED, _past_deadline(deadline)
    due = None
    if settle and state in (StepState.FIXED, StepState.UNVERIFIED):
        due = ctx.now() + timedelta(minutes=settle)
    if not await asyncio.to_thread(
        store.finish_step,
        batch.id,
        step.host,
        state,
        now=ctx.now(),
        detail=detail,
        result=ran,
        followup_due_at=due,
    ):
        log.warning("batch %s host %s left 'started' while it ran", batch.id, step.host)
        return None
    await asyncio.to_thread(
        audit,
        ctx,
        batch,
        user,
        AuditAction.BATCH_HOST,
        outcome=state.value,
        host=step.host,
        detail=detail,
        before=_part(ran, "before"),
        after=_part(ran, "after"),
    )
    return state


def _past_deadline(deadline: float) -> str:
    return (
        f"past the per-host deadline of {deadline:g} s; the fix may or may not have run, "
        "and it is not retried"
    )


async def _wait_clock(ctx: BotContext, batch_id: str, until: datetime) -> None:
    """Until the bot's clock reaches ``until``, or the batch was aborted."""
    while ctx.now() < until:
        batch = await asyncio.to_thread(reload, ctx, batch_id)
        if batch.state is BatchState.ABORTED:
            return
        await asyncio.sleep(POLL_S)


def _part(result: dict[str, object] | None, key: str) -> dict[str, Any] | None:
    value = (result or {}).get(key)
    return value if isinstance(value, dict) else None


async def _fix(
    ctx: BotContext, fix: FixMeta, batch_id: str, host: str
) -> tuple[StepState, str, dict[str, object] | None]:
    """Run the fix once, here or on the host's site worker; the result is None unless the
    fix ran."""
    try:
        target = ctx.services.inventory.resolve(host)
        # the same runner as a single fix: a site host's fix goes to its site's worker,
        # which claims this step's key before it runs the fix (exactly once)
        runner = ctx.services.fix_runner()
        deadline = time.monotonic() + FIX_DEADLINE_S
        result = await runner.run(target, fix, deadline, key=f"{batch_id}:{host.lower()}")
    except WsusbotError as exc:
        reason, delivered = fix_failure(exc)
        if delivered:
            return (
                StepState.UNVERIFIED,
                f"the fix command reached the host but its answer was lost ({reason}); "
                "it may or may not have run, and it is not retried",
                None,
            )
        return StepState.FAILED, f"{reason}: {exc}", None
    return StepState.STARTED, "the fix ran", dict(result.to_json())


async def _verify(
    ctx: BotContext, fix: FixMeta, host: str, user: str, ran: dict[str, object], *, delayed: bool
) -> tuple[StepState, str]:
    """The fix's verifying checks: pass -> fixed. Still failing -> failed, except for a
    fix that takes minutes to show: then unverified, and its follow-up tells."""
    try:
        target = ctx.services.inventory.resolve(host)
        verification, ok = await verify(ctx, target, fix, user)
    except WsusbotError as exc:
        ran["verification"] = [f"re-check failed: {exc}"]
        return StepState.UNVERIFIED, f"the fix ran; the re-check failed: {exc}"
    ran["verification"] = verification
    shown = "; ".join(verification)
    if ok:
        return StepState.FIXED, f"fixed: {shown}"
    if delayed:
        return (
            StepState.UNVERIFIED,
            f"the fix ran; its effect shows within minutes, so its follow-up decides ({shown})",
        )
    return StepState.FAILED, f"the fix ran, but verifying checks still fail: {shown}"


async def finish(ctx: BotContext, batch_id: str) -> None:
    """Once the batch is final and no host is pending or mid-step: the summary and the
    CSV of every host, posted once in the thread."""
    store = batches(ctx)
    batch = await asyncio.to_thread(reload, ctx, batch_id)
    if not batch.state.final:
        await asyncio.to_thread(update_card, ctx, batch_id)
        return
    counts = await asyncio.to_thread(store.counts, batch_id)
    if counts[StepState.PENDING] or counts[StepState.STARTED]:
        return
    if not await asyncio.to_thread(store.claim_flag, batch_id, "summary_posted"):
        return
    await asyncio.to_thread(update_card, ctx, batch_id)
    steps = await asyncio.to_thread(store.steps, batch_id)
    text = (
        f"batch `{batch.id}` ({batch.fix_id}) {batch.state.value}: "
        f"fixed {counts[StepState.FIXED]} · failed {counts[StepState.FAILED]} · "
        f"unverified {counts[StepState.UNVERIFIED]} · skipped {counts[StepState.SKIPPED]}"
        + (f" — {batch.reason}" if batch.reason else "")
    )
    followups = sum(1 for s in steps if s.followup_state)
    if followups:
        text += f"; {followups} follow-up check(s) are scheduled and summarised here when due"
    await asyncio.to_thread(say, ctx, batch, text)
    await asyncio.to_thread(
        upload,
        ctx,
        batch,
        f"{batch.id}-summary.csv",
        steps_csv(steps),
        f"Batch {batch.id}: every host and its outcome",
    )
    # follow-ups that all ran before the batch ended are summarised now
    from bot.usecases.batch.recovery import summarise_followups

    await asyncio.to_thread(summarise_followups, ctx, batch_id)
