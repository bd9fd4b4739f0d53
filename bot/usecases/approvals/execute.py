"""Run an approved fix once: approved -> running -> succeeded | failed; then re-check and
schedule the fix's follow-up. A fix is never retried."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import timedelta
from typing import Any

from bot.store.approvals import ApprovalRecord, State
from bot.store.audit import AuditAction, AuditRecord
from bot.usecases.approvals.common import (
    BOT_USER,
    about,
    approvals,
    facts_of,
    fix_failure,
    lease_kept,
    lease_values,
    reload,
    say_in_thread,
    update_card,
)
from bot.usecases.context import BotContext
from checks.errors import WsusbotError
from checks.fixes import FixMeta, get_fix
from checks.followup import FollowupOutcome, FollowupVerdict, followup_verdict
from checks.model import Status
from handlers.target import HostTarget

log = logging.getLogger(__name__)

#: how long a fix probe may run on the host
FIX_DEADLINE_S = 120.0


async def execute(ctx: BotContext, approval_id: str) -> None:
    store = approvals(ctx)
    if not await asyncio.to_thread(
        store.transition, approval_id, State.APPROVED, State.RUNNING, **lease_values(ctx)
    ):
        return
    async with lease_kept(ctx, approval_id):
        await _run(ctx, approval_id)


async def _run(ctx: BotContext, approval_id: str) -> None:
    store = approvals(ctx)
    approval = await asyncio.to_thread(reload, ctx, approval_id)
    fix = get_fix(approval.fix_id)
    user = approval.decided_by or BOT_USER
    audit = about(approval)
    await asyncio.to_thread(
        ctx.record, AuditRecord(time=ctx.now(), user=user, action=AuditAction.FIX_STARTED, **audit)
    )
    try:
        target = ctx.services.inventory.resolve(approval.host)
        # the approval id is the idempotency key a site worker claims before it runs the fix
        runner = ctx.services.fix_runner()
        result = await runner.run(target, fix, time.monotonic() + FIX_DEADLINE_S, key=approval.id)
    except WsusbotError as exc:
        reason, delivered = fix_failure(exc)
        if delivered:
            await _outcome_unknown(ctx, approval, fix, f"{reason}: {exc}", user, audit)
            return
        await asyncio.to_thread(_fail, ctx, approval, f"{reason}: {exc}", user, audit)
        return
    try:
        verification, report_ok = await verify(ctx, target, fix, user)
        outcome = "fixed" if report_ok else "still_failing"
    except WsusbotError as exc:
        # the fix ran; only the re-check failed: say so rather than leave it "running"
        verification, report_ok, outcome = [f"re-check failed: {exc}"], False, "unverified"
    payload = {**result.to_json(), "verification": verification, "outcome": outcome}
    if not await asyncio.to_thread(
        store.transition,
        approval.id,
        State.RUNNING,
        State.SUCCEEDED,
        finished_at=ctx.now(),
        result=payload,
    ):
        log.warning(
            "approval %s left 'running' while its fix ran; result kept in the log only", approval.id
        )
        return
    await asyncio.to_thread(
        ctx.record,
        AuditRecord(
            time=ctx.now(),
            user=user,
            action=AuditAction.FIX_SUCCEEDED,
            outcome=outcome,
            before=result.before,
            after=result.after,
            **audit,
        ),
    )
    fresh = await asyncio.to_thread(reload, ctx, approval.id)
    note = (
        "fixed: the verifying checks pass"
        if report_ok
        else "the fix ran, but verifying checks still fail (see below)"
    )
    if fix.followup_minutes:
        minutes = ctx.services.settings.approvals.followup_minutes or fix.followup_minutes
        await asyncio.to_thread(
            store.add_followup,
            approval_id=approval.id,
            host=approval.host,
            due_at=ctx.now() + timedelta(minutes=minutes),
            channel=approval.channel,
            thread_ts=approval.thread_ts or approval.message_ts,
            requested_by=user,
            before=facts_of(approval),
        )
        note += f"; a follow-up check runs in {minutes} minutes (self-update takes 6-10)"
    await asyncio.to_thread(update_card, ctx, fresh, note=note)


def _fail(
    ctx: BotContext, approval: ApprovalRecord, error: str, user: str, audit: dict[str, Any]
) -> None:
    if not approvals(ctx).transition(
        approval.id, State.RUNNING, State.FAILED, finished_at=ctx.now(), error=error[:2000]
    ):
        return
    ctx.record(
        AuditRecord(
            time=ctx.now(),
            user=user,
            action=AuditAction.FIX_FAILED,
            outcome="failed",
            detail=error,
            **audit,
        )
    )
    update_card(ctx, reload(ctx, approval.id), note="failed; nothing is retried")


async def _outcome_unknown(
    ctx: BotContext,
    approval: ApprovalRecord,
    fix: FixMeta,
    error: str,
    user: str,
    audit: dict[str, Any],
) -> None:
    """The command reached the host and the answer was lost (cut short, or past the
    deadline): the host may have changed. Never "failed", never retried: re-check and say
    what the host shows now."""
    try:
        target = ctx.services.inventory.resolve(approval.host)
        verification, ok = await verify(ctx, target, fix, user)
        shows = "the verifying checks now pass" if ok else "the verifying checks still fail"
    except WsusbotError as exc:
        verification, ok, shows = [f"re-check failed: {exc}"], False, "the re-check failed too"
    if not await asyncio.to_thread(
        approvals(ctx).transition,
        approval.id,
        State.RUNNING,
        State.OUTCOME_UNKNOWN,
        finished_at=ctx.now(),
        error=error[:2000],
        result={"verification": verification, "outcome": "unknown", "recheck_ok": ok},
    ):
        return
    await asyncio.to_thread(
        ctx.record,
        AuditRecord(
            time=ctx.now(),
            user=user,
            action=AuditAction.FIX_OUTCOME_UNKNOWN,
            outcome="recheck_ok" if ok else "recheck_failing",
            detail=error,
            **audit,
        ),
    )
    fresh = await asyncio.to_thread(reload, ctx, approval.id)
    await asyncio.to_thread(
        update_card,
        ctx,
        fresh,
        note="the fix command reached the host but its answer was lost, so it may or may "
        f"not have run; not retried. Re-check: {shows}",
    )


async def followup_check(ctx: BotContext, host: str, before: dict[str, Any]) -> FollowupVerdict:
    """The follow-up check of a fixed host (single fix or batch): a fresh check judged
    against what the host looked like before the fix; UNKNOWN when it cannot be checked."""
    try:
        target = ctx.services.inventory.resolve(host)
        runner = await ctx.runner()
        outcome = await runner.check(target, BOT_USER, fresh=True)
    except WsusbotError as exc:
        return FollowupVerdict(FollowupOutcome.UNKNOWN, f"follow-up check of {host} failed: {exc}")
    return followup_verdict(host, outcome.report, outcome.facts, before, ctx.services.thresholds)


async def verify(
    ctx: BotContext, target: HostTarget, fix: FixMeta, user: str
) -> tuple[list[str], bool]:
    """Re-check the host: the fix's verifying checks must pass (or not apply)."""
    runner = await ctx.runner()
    # fresh: the fix changed the host; no probe started before it may stand in
    outcome = await runner.check(target, user, fresh=True)
    statuses = {f.check: f.status for f in outcome.report.findings}
    lines = [f"{check}: {statuses.get(check, Status.UNKNOWN).value}" for check in fix.verified_by]
    ok = all(statuses.get(check) in (Status.PASS, Status.SKIP) for check in fix.verified_by)
    return lines, ok


async def recheck_after_runbook(
    ctx: BotContext, approval: ApprovalRecord, fix: FixMeta, user: str
) -> None:
    target = ctx.services.inventory.resolve(approval.host)
    verification, ok = await verify(ctx, target, fix, user)
    text = (
        "re-check after the runbook: "
        + ("passes" if ok else "still failing")
        + " — "
        + "; ".join(verification)
    )
    await asyncio.to_thread(say_in_thread, ctx, approval, text)
