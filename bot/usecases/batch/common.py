"""What the batch steps share: the store, the plan from ``[batch]``, the card view,
thread notes, the lease an executor holds, audit rows, the hosts' CSV."""

from __future__ import annotations

import csv
import functools
import io
import logging
from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager
from typing import Any

from bot.chat import ChatError
from bot.config import Settings
from bot.store.audit import AuditRecord
from bot.store.batches import BatchRecord, BatchState, BatchStore, Plan, StepRecord, StepState
from bot.usecases.approvals.common import renewing
from bot.usecases.context import BotContext
from bot.views import BatchView, Notice
from checks.fixes import get_fix

log = logging.getLogger(__name__)

#: the card names this many hosts; a longer list comes as a CSV in the thread
CARD_HOSTS = 10

#: the buttons each state offers
CONTROLS: dict[BatchState, tuple[str, ...]] = {
    BatchState.REQUESTED: ("approve", "deny"),
    # only what the state machine accepts from approved (a pause would have no executor
    # to wait for it yet)
    BatchState.APPROVED: ("abort",),
    BatchState.RUNNING: ("pause", "abort"),
    BatchState.PAUSED: ("resume", "abort"),
    BatchState.AWAITING_CONFIRMATION: ("confirm", "abort"),
}


def batches(ctx: BotContext) -> BatchStore:
    return ctx.services.batches


def plan_from(settings: Settings) -> Plan:
    config = settings.batch
    return Plan(
        canary=config.canary,
        wave_size=config.wave_size,
        failure_threshold=config.failure_threshold,
        pause_s=config.pause_between_waves_s,
        concurrency=config.concurrency,
        host_deadline_s=config.host_deadline_s,
    )


def waves_of(steps: Iterable[StepRecord]) -> int:
    return 1 + max((s.wave for s in steps), default=0)


def view(
    ctx: BotContext,
    batch: BatchRecord,
    *,
    with_buttons: bool = True,
    note: str | None = None,
) -> BatchView:
    steps = batches(ctx).steps(batch.id)
    counts = {state.value: 0 for state in StepState}
    for step in steps:
        counts[step.state.value] += 1
    begun = [s.wave for s in steps if s.state is not StepState.PENDING and s.started_at]
    failures = tuple(
        f"{s.host}: {s.detail or s.state.value}"
        for s in sorted(steps, key=lambda s: s.finished_at or batch.requested_at, reverse=True)
        if s.state in (StepState.FAILED, StepState.UNVERIFIED)
    )
    controls = CONTROLS.get(batch.state, ()) if with_buttons else ()
    return BatchView(
        batch_id=batch.id,
        fix=get_fix(batch.fix_id),
        state=batch.state.value,
        source=batch.source,
        requested_by=batch.requested_by,
        expires_at=batch.expires_at,
        plan=batch.plan.to_json(),
        hosts=tuple(s.host for s in steps),
        left_out=batch.left_out,
        counts=counts,
        waves=waves_of(steps),
        wave=max(begun) if begun else None,
        decided_by=batch.decided_by,
        actor=batch.actor,
        reason=batch.reason,
        note=note,
        failures=failures,
        controls=controls,
        token=batch.token if controls else None,
        csv_attached=len(steps) > CARD_HOSTS,
    )


def reload(ctx: BotContext, batch_id: str) -> BatchRecord:
    batch = batches(ctx).get(batch_id)
    assert batch is not None
    return batch


def update_card(ctx: BotContext, batch_id: str, *, note: str | None = None) -> None:
    """Redraw the one progress message (the card) from the store."""
    batch = reload(ctx, batch_id)
    if not (batch.channel and batch.message_ts):
        return
    try:
        ctx.chat.update(batch.channel, batch.message_ts, view(ctx, batch, note=note))
    except ChatError as exc:
        log.warning("updating batch card %s failed: %s", batch.id, exc.code)


def thread_of(batch: BatchRecord) -> str | None:
    return batch.thread_ts or batch.message_ts


def say(ctx: BotContext, batch: BatchRecord, text: str) -> None:
    if not batch.channel:
        return
    try:
        ctx.chat.post(batch.channel, Notice(text), thread_ts=thread_of(batch))
    except ChatError as exc:
        log.warning("thread post for batch %s failed: %s", batch.id, exc.code)


def upload(ctx: BotContext, batch: BatchRecord, filename: str, content: str, title: str) -> None:
    if not batch.channel:
        return
    try:
        ctx.chat.upload(
            batch.channel,
            thread_ts=thread_of(batch),
            filename=filename,
            content=content,
            title=title,
        )
    except ChatError as exc:
        log.warning("CSV upload for batch %s failed: %s", batch.id, exc.code)


CSV_FIELDS = ("host", "wave", "state", "started_at", "finished_at", "detail", "followup")


def steps_csv(steps: Iterable[StepRecord]) -> str:
    """Every host of a batch, its wave and outcome (a CSV cell never starts a formula)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_FIELDS)
    for step in steps:
        writer.writerow(
            [
                _cell(step.host),
                "canary" if step.wave == 0 else step.wave,
                step.state.value,
                step.started_at.isoformat() if step.started_at else "",
                step.finished_at.isoformat() if step.finished_at else "",
                _cell(step.detail or ""),
                step.followup_outcome or step.followup_state or "",
            ]
        )
    return buffer.getvalue()


def _cell(text: str) -> str:
    # spreadsheet formula injection: a cell starting with = + - @ is made literal
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def audit(
    ctx: BotContext,
    batch: BatchRecord,
    user: str,
    action: str,
    *,
    outcome: str | None = None,
    host: str | None = None,
    detail: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    ctx.record(
        AuditRecord(
            time=ctx.now(),
            user=user,
            action=action,
            host=host,
            fix=batch.fix_id,
            approval=batch.id,
            outcome=outcome,
            before=before,
            after=after,
            detail=detail,
        )
    )


def lease_kept(ctx: BotContext, batch_id: str, owner: str) -> AbstractAsyncContextManager[None]:
    """Renew the executor's lease while its loop runs; a lapsed lease means it is gone."""
    return renewing(ctx, functools.partial(batches(ctx).renew_lease, batch_id, owner))
