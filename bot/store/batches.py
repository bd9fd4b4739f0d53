"""Batch fixes: one approval, many host steps, exactly once per host by compare-and-set.

A batch moves with ``UPDATE batches ... WHERE id = :id AND state IN (:expected)``; a host
step starts with ``UPDATE batch_hosts ... WHERE state = 'pending' AND EXISTS (the batch is
running AND its lease names this executor)``. Concurrent clicks, replicas sharing one
PostgreSQL and an executor retired by Pause/Resume all meet at those statements: a host
runs at most once, and a step found ``started`` after a crash is never started again.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, exists, func, select, update

from bot.store.db import Database, require_moves, retrying_store, rows_touched
from bot.store.models import Batch, BatchHost
from checks.errors import StoreError


class BatchState(enum.StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    RUNNING = "running"
    PAUSED = "paused"
    #: a restart found it mid-run: the remaining hosts wait for an approver's "Resume"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    #: stopped on its own: the canary failed, or a wave's failures exceeded the threshold
    HALTED = "halted"
    ABORTED = "aborted"
    COMPLETED = "completed"
    DENIED = "denied"
    EXPIRED = "expired"
    #: the request card could not be posted: nobody saw it, nothing can act on it
    WITHDRAWN = "withdrawn"

    @property
    def final(self) -> bool:
        return not BATCH_TRANSITIONS[self]


#: the batch state machine: every move the store accepts, and no other
BATCH_TRANSITIONS: dict[BatchState, frozenset[BatchState]] = {
    BatchState.REQUESTED: frozenset(
        {BatchState.APPROVED, BatchState.DENIED, BatchState.EXPIRED, BatchState.WITHDRAWN}
    ),
    # aborted before its executor started: the executor's approved -> running then fails
    BatchState.APPROVED: frozenset(
        {BatchState.RUNNING, BatchState.AWAITING_CONFIRMATION, BatchState.ABORTED}
    ),
    BatchState.RUNNING: frozenset(
        {
            BatchState.PAUSED,
            BatchState.HALTED,
            BatchState.ABORTED,
            BatchState.COMPLETED,
            BatchState.AWAITING_CONFIRMATION,
        }
    ),
    BatchState.PAUSED: frozenset({BatchState.RUNNING, BatchState.ABORTED}),
    BatchState.AWAITING_CONFIRMATION: frozenset({BatchState.RUNNING, BatchState.ABORTED}),
    BatchState.HALTED: frozenset(),
    BatchState.ABORTED: frozenset(),
    BatchState.COMPLETED: frozenset(),
    BatchState.DENIED: frozenset(),
    BatchState.EXPIRED: frozenset(),
    BatchState.WITHDRAWN: frozenset(),
}


class StepState(enum.StrEnum):
    PENDING = "pending"
    STARTED = "started"
    #: the fix ran and its verifying checks pass
    FIXED = "fixed"
    #: the fix failed on the host, or ran and its verifying checks still fail
    FAILED = "failed"
    #: the fix ran, or may have (its answer was lost, the bot stopped mid-step), and no
    #: re-check could say whether it worked: never run again
    UNVERIFIED = "unverified"
    #: never started (no longer proposed, or the batch halted or was aborted first)
    SKIPPED = "skipped"


#: what a finished step may be recorded as
FINISHED = (StepState.FIXED, StepState.FAILED, StepState.UNVERIFIED)


class IllegalBatchTransitionError(StoreError):
    """A move the batch state machine does not allow: a bug in the caller, never run."""


@dataclass(frozen=True, slots=True)
class Plan:
    """How a batch runs; the defaults come from ``[batch]`` (docs/config.md)."""

    canary: int
    wave_size: int
    #: a wave halts the batch when more than this many of its hosts fail
    failure_threshold: int
    pause_s: float
    concurrency: int
    host_deadline_s: float

    def to_json(self) -> dict[str, Any]:
        return {
            "canary": self.canary,
            "wave_size": self.wave_size,
            "failure_threshold": self.failure_threshold,
            "pause_s": self.pause_s,
            "concurrency": self.concurrency,
            "host_deadline_s": self.host_deadline_s,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Plan:
        return cls(
            canary=int(data["canary"]),
            wave_size=int(data["wave_size"]),
            failure_threshold=int(data["failure_threshold"]),
            pause_s=float(data["pause_s"]),
            concurrency=int(data["concurrency"]),
            host_deadline_s=float(data["host_deadline_s"]),
        )

    def wave_of(self, position: int) -> int:
        """Wave 0 is the canary; then waves of ``wave_size``, numbered from 1."""
        if position < self.canary:
            return 0
        return 1 + (position - self.canary) // self.wave_size


@dataclass(frozen=True, slots=True)
class BatchRecord:
    id: str
    fix_id: str
    state: BatchState
    source: str
    requested_by: str
    requested_at: datetime
    expires_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    finished_at: datetime | None
    channel: str | None
    thread_ts: str | None
    message_ts: str | None
    plan: Plan
    token: str | None
    left_out: tuple[str, ...]
    reason: str | None
    actor: str | None
    lease_owner: str | None
    lease_until: datetime | None


@dataclass(frozen=True, slots=True)
class StepRecord:
    id: int
    batch_id: str
    host: str
    position: int
    wave: int
    state: StepState
    started_at: datetime | None
    finished_at: datetime | None
    context: dict[str, Any]
    result: dict[str, Any] | None
    detail: str | None
    followup_due_at: datetime | None
    followup_state: str | None
    followup_outcome: str | None
    followup_detail: str | None


def _batch(row: Batch) -> BatchRecord:
    return BatchRecord(
        id=row.id,
        fix_id=row.fix_id,
        state=BatchState(row.state),
        source=row.source,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        expires_at=row.expires_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        finished_at=row.finished_at,
        channel=row.channel,
        thread_ts=row.thread_ts,
        message_ts=row.message_ts,
        plan=Plan.from_json(row.plan),
        token=row.token,
        left_out=tuple((row.left_out or {}).get("hosts", ())),
        reason=row.reason,
        actor=row.actor,
        lease_owner=row.lease_owner,
        lease_until=row.lease_until,
    )


def _step(row: BatchHost) -> StepRecord:
    return StepRecord(
        id=row.id,
        batch_id=row.batch_id,
        host=row.host,
        position=row.position,
        wave=row.wave,
        state=StepState(row.state),
        started_at=row.started_at,
        finished_at=row.finished_at,
        context=row.context or {},
        result=row.result,
        detail=row.detail,
        followup_due_at=row.followup_due_at,
        followup_state=row.followup_state,
        followup_outcome=row.followup_outcome,
        followup_detail=row.followup_detail,
    )


@retrying_store
class BatchStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    # ------------------------------------------------------------------ batches

    def create(
        self,
        *,
        fix_id: str,
        source: str,
        requested_by: str,
        now: datetime,
        expires_at: datetime,
        channel: str | None,
        thread_ts: str | None,
        plan: Plan,
        hosts: Sequence[tuple[str, dict[str, Any]]],
        left_out: Sequence[str] = (),
    ) -> BatchRecord:
        """The batch and one pending step per host, in order (hosts are distinct)."""
        names = [host.lower() for host, _ in hosts]
        if len(set(names)) != len(names):
            raise StoreError("a batch lists a host twice")
        row = Batch(
            id="bat_" + secrets.token_hex(8),
            fix_id=fix_id,
            state=BatchState.REQUESTED.value,
            source=source[:255],
            requested_by=requested_by,
            requested_at=now,
            expires_at=expires_at,
            channel=channel,
            thread_ts=thread_ts,
            plan=plan.to_json(),
            left_out={"hosts": list(left_out)},
            summary_posted=False,
            followups_posted=False,
        )
        with self._db.session() as session:
            session.add(row)
            session.flush()
            for position, (host, context) in enumerate(hosts):
                session.add(
                    BatchHost(
                        batch_id=row.id,
                        host=host.lower(),
                        position=position,
                        wave=plan.wave_of(position),
                        state=StepState.PENDING.value,
                        context=context,
                    )
                )
            return _batch(row)

    def get(self, batch_id: str) -> BatchRecord | None:
        if not batch_id or len(batch_id) > 64:
            return None
        with self._db.session() as session:
            row = session.get(Batch, batch_id)
            return _batch(row) if row else None

    def set_message(self, batch_id: str, message_ts: str) -> None:
        with self._db.session() as session:
            session.execute(update(Batch).where(Batch.id == batch_id).values(message_ts=message_ts))

    def set_token(self, batch_id: str, token: str) -> None:
        with self._db.session() as session:
            session.execute(update(Batch).where(Batch.id == batch_id).values(token=token))

    def transition(
        self,
        batch_id: str,
        expected: BatchState | tuple[BatchState, ...],
        new: BatchState,
        **values: Any,
    ) -> bool:
        """Compare-and-set: True only for the caller that moved the row."""
        states = require_moves(
            f"batch {batch_id}",
            (expected,) if isinstance(expected, BatchState) else expected,
            new,
            BATCH_TRANSITIONS,
            IllegalBatchTransitionError,
        )
        statement = (
            update(Batch)
            .where(Batch.id == batch_id, Batch.state.in_([s.value for s in states]))
            .values(state=new.value, **values)
        )
        with self._db.session() as session:
            return rows_touched(session.execute(statement)) == 1

    def renew_lease(self, batch_id: str, owner: str, until: datetime) -> bool:
        """Extend the lease of a batch this executor still holds (never shortened: a
        canary waiting minutes for its fix to show holds it for the whole wait)."""
        live = [BatchState.APPROVED, BatchState.RUNNING, BatchState.PAUSED]
        statement = (
            update(Batch)
            .where(
                Batch.id == batch_id,
                Batch.lease_owner == owner,
                Batch.state.in_([s.value for s in live]),
            )
            .values(
                lease_until=case(
                    (
                        Batch.lease_until.is_not(None) & (Batch.lease_until > until),
                        Batch.lease_until,
                    ),
                    else_=until,
                )
            )
        )
        with self._db.session() as session:
            return rows_touched(session.execute(statement)) == 1

    def claim_flag(self, batch_id: str, flag: str) -> bool:
        """``summary_posted`` / ``followups_posted``: False -> True for one caller only."""
        column = {
            "summary_posted": Batch.summary_posted,
            "followups_posted": Batch.followups_posted,
        }
        if flag not in column:
            raise StoreError(f"unknown batch flag {flag!r}")
        statement = (
            update(Batch).where(Batch.id == batch_id, column[flag].is_(False)).values({flag: True})
        )
        with self._db.session() as session:
            return rows_touched(session.execute(statement)) == 1

    def in_states(self, *states: BatchState) -> list[BatchRecord]:
        with self._db.session() as session:
            rows = session.execute(
                select(Batch)
                .where(Batch.state.in_([s.value for s in states]))
                .order_by(Batch.requested_at, Batch.id)
            ).scalars()
            return [_batch(row) for row in rows]

    def expired_requests(self, now: datetime) -> list[BatchRecord]:
        with self._db.session() as session:
            rows = session.execute(
                select(Batch).where(
                    Batch.state == BatchState.REQUESTED.value, Batch.expires_at <= now
                )
            ).scalars()
            return [_batch(row) for row in rows]

    # ------------------------------------------------------------------ steps

    def steps(self, batch_id: str) -> list[StepRecord]:
        with self._db.session() as session:
            rows = session.execute(
                select(BatchHost).where(BatchHost.batch_id == batch_id).order_by(BatchHost.position)
            ).scalars()
            return [_step(row) for row in rows]

    def counts(self, batch_id: str) -> dict[StepState, int]:
        with self._db.session() as session:
            rows = session.execute(
                select(BatchHost.state, func.count(BatchHost.id))
                .where(BatchHost.batch_id == batch_id)
                .group_by(BatchHost.state)
            ).all()
        found = dict.fromkeys(StepState, 0)
        for state, count in rows:
            found[StepState(state)] = int(count)
        return found

    def claim_step(self, batch_id: str, host: str, owner: str, now: datetime) -> bool:
        """pending -> started, only while the batch runs under this executor's lease."""
        running = exists().where(
            and_(
                Batch.id == batch_id,
                Batch.state == BatchState.RUNNING.value,
                Batch.lease_owner == owner,
            )
        )
        statement = (
            update(BatchHost)
            .where(
                BatchHost.batch_id == batch_id,
                BatchHost.host == host.lower(),
                BatchHost.state == StepState.PENDING.value,
                running,
            )
            .values(state=StepState.STARTED.value, owner=owner, started_at=now)
        )
        with self._db.session() as session:
            return rows_touched(session.execute(statement)) == 1

    def finish_step(
        self,
        batch_id: str,
        host: str,
        state: StepState,
        *,
        now: datetime,
        detail: str,
        result: dict[str, Any] | None = None,
        followup_due_at: datetime | None = None,
    ) -> bool:
        """started -> fixed | failed | unverified (once)."""
        if state not in FINISHED:
            raise StoreError(f"a step cannot finish as {state.value}")
        values: dict[str, Any] = {
            "state": state.value,
            "finished_at": now,
            "detail": detail[:4000],
            "result": result,
        }
        if followup_due_at is not None:
            values["followup_due_at"] = followup_due_at
            values["followup_state"] = "pending"
        statement = (
            update(BatchHost)
            .where(
                BatchHost.batch_id == batch_id,
                BatchHost.host == host.lower(),
                BatchHost.state == StepState.STARTED.value,
            )
            .values(**values)
        )
        with self._db.session() as session:
            return rows_touched(session.execute(statement)) == 1

    def skip_pending(
        self, batch_id: str, detail: str, *, now: datetime, hosts: Sequence[str] | None = None
    ) -> list[str]:
        """pending -> skipped (all of the batch's, or ``hosts``); the hosts it moved."""
        # one UPDATE ... RETURNING: the state condition makes it the compare-and-set for
        # every row at once (a host claimed meanwhile is not in it); SQLite >= 3.35 and
        # PostgreSQL both return the rows it moved
        statement = (
            update(BatchHost)
            .where(BatchHost.batch_id == batch_id, BatchHost.state == StepState.PENDING.value)
            .values(state=StepState.SKIPPED.value, finished_at=now, detail=detail[:4000])
            .returning(BatchHost.host)
        )
        if hosts is not None:
            statement = statement.where(BatchHost.host.in_([h.lower() for h in hosts]))
        with self._db.session() as session:
            return sorted(session.execute(statement).scalars())

    def abandon_started(self, batch_id: str, detail: str, *, now: datetime) -> list[str]:
        """started -> unverified for a batch whose executor is gone: the fix may or may not
        have run, and it is never run again. The hosts it moved."""
        with self._db.session() as session:
            candidates = list(
                session.execute(
                    select(BatchHost.host).where(
                        BatchHost.batch_id == batch_id,
                        BatchHost.state == StepState.STARTED.value,
                    )
                ).scalars()
            )
        moved = []
        for host in candidates:
            if self.finish_step(batch_id, host, StepState.UNVERIFIED, now=now, detail=detail):
                moved.append(host)
        return moved

    # ------------------------------------------------------------------ follow-ups

    def claim_due_followups(self, now: datetime) -> list[StepRecord]:
        """Due follow-ups this caller now owns (pending -> running by compare-and-set)."""
        with self._db.session() as session:
            due = list(
                session.execute(
                    select(BatchHost.id).where(
                        BatchHost.followup_state == "pending", BatchHost.followup_due_at <= now
                    )
                ).scalars()
            )
        claimed: list[StepRecord] = []
        for step_id in due:
            with self._db.session() as session:
                result = session.execute(
                    update(BatchHost)
                    .where(BatchHost.id == step_id, BatchHost.followup_state == "pending")
                    .values(followup_state="running")
                )
                if rows_touched(result) == 1:
                    row = session.get(BatchHost, step_id)
                    assert row is not None
                    claimed.append(_step(row))
        return claimed

    def finish_followup(self, step_id: int, outcome: str, detail: str) -> None:
        with self._db.session() as session:
            session.execute(
                update(BatchHost)
                .where(BatchHost.id == step_id, BatchHost.followup_state == "running")
                .values(followup_state="done", followup_outcome=outcome, followup_detail=detail)
            )

    def release_stale_followups(self, due_before: datetime) -> int:
        """Follow-ups left "running" by a process that died go back to "pending"."""
        with self._db.session() as session:
            result = session.execute(
                update(BatchHost)
                .where(
                    BatchHost.followup_state == "running", BatchHost.followup_due_at <= due_before
                )
                .values(followup_state="pending")
            )
            return rows_touched(result)

    def followups_done(self, batch_id: str) -> bool:
        """Every follow-up of a finished batch has run (and it had at least one)."""
        with self._db.session() as session:
            states = list(
                session.execute(
                    select(BatchHost.followup_state).where(
                        BatchHost.batch_id == batch_id, BatchHost.followup_state.is_not(None)
                    )
                ).scalars()
            )
        return bool(states) and all(state == "done" for state in states)
