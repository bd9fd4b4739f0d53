"""Fix approvals: exactly-once by compare-and-set in the database, not by memory.

A state moves only with ``UPDATE ... WHERE id = :id AND state IN (:expected)``; the one
caller whose update touched the row won. Concurrent clicks, Slack retries and replicas
sharing one PostgreSQL all meet at that single statement.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from bot.store.db import Database, require_moves, retrying_store, rows_touched
from bot.store.models import Approval, FollowUp
from checks.errors import StoreError
from checks.followup import FollowupOutcome


class State(enum.StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DENIED = "denied"
    EXPIRED = "expired"
    INTERRUPTED = "interrupted"
    #: the request card could not be posted: nobody saw it, nothing can act on it
    WITHDRAWN = "withdrawn"
    #: the fix command reached the host but its answer was lost: it may or may not have run
    OUTCOME_UNKNOWN = "outcome_unknown"

    @property
    def final(self) -> bool:
        return not TRANSITIONS[self]


#: the approval state machine: every move the store accepts, and no other
TRANSITIONS: dict[State, frozenset[State]] = {
    State.REQUESTED: frozenset(
        {State.APPROVED, State.DENIED, State.EXPIRED, State.WITHDRAWN, State.SUCCEEDED}
    ),
    State.APPROVED: frozenset({State.RUNNING, State.INTERRUPTED}),
    State.RUNNING: frozenset(
        {State.SUCCEEDED, State.FAILED, State.INTERRUPTED, State.OUTCOME_UNKNOWN}
    ),
    State.SUCCEEDED: frozenset(),
    State.FAILED: frozenset(),
    State.DENIED: frozenset(),
    State.EXPIRED: frozenset(),
    State.INTERRUPTED: frozenset(),
    State.WITHDRAWN: frozenset(),
    State.OUTCOME_UNKNOWN: frozenset(),
}


class IllegalTransitionError(StoreError):
    """A move the state machine does not allow: a bug in the caller, never run."""


@dataclass(frozen=True, slots=True)
class FollowupResult:
    host: str
    fix_id: str
    finished_at: datetime
    outcome: FollowupOutcome
    detail: str | None


@dataclass(frozen=True, slots=True)
class ApprovalRecord:
    id: str
    host: str
    fix_id: str
    state: State
    requested_by: str
    requested_at: datetime
    expires_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    finished_at: datetime | None
    channel: str | None
    thread_ts: str | None
    message_ts: str | None
    run_id: int | None
    context: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    lease_owner: str | None = None
    lease_until: datetime | None = None


def _record(row: Approval) -> ApprovalRecord:
    return ApprovalRecord(
        id=row.id,
        host=row.host,
        fix_id=row.fix_id,
        state=State(row.state),
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        expires_at=row.expires_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        finished_at=row.finished_at,
        channel=row.channel,
        thread_ts=row.thread_ts,
        message_ts=row.message_ts,
        run_id=row.run_id,
        context=row.context or {},
        result=row.result,
        error=row.error,
        lease_owner=row.lease_owner,
        lease_until=row.lease_until,
    )


@retrying_store
class ApprovalStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create(
        self,
        *,
        host: str,
        fix_id: str,
        requested_by: str,
        now: datetime,
        expires_at: datetime,
        channel: str | None,
        thread_ts: str | None,
        run_id: int | None,
        context: dict[str, Any],
    ) -> ApprovalRecord:
        row = Approval(
            id="apr_" + secrets.token_hex(8),
            host=host.lower(),
            fix_id=fix_id,
            state=State.REQUESTED.value,
            requested_by=requested_by,
            requested_at=now,
            expires_at=expires_at,
            channel=channel,
            thread_ts=thread_ts,
            run_id=run_id,
            context=context,
        )
        with self._db.session() as session:
            session.add(row)
            session.flush()
            return _record(row)

    def get(self, approval_id: str) -> ApprovalRecord | None:
        if not approval_id or len(approval_id) > 64:
            return None
        with self._db.session() as session:
            row = session.get(Approval, approval_id)
            return _record(row) if row else None

    def set_message(self, approval_id: str, message_ts: str) -> None:
        with self._db.session() as session:
            session.execute(
                update(Approval).where(Approval.id == approval_id).values(message_ts=message_ts)
            )

    def transition(
        self,
        approval_id: str,
        expected: State | tuple[State, ...],
        new: State,
        **values: Any,
    ) -> bool:
        """Compare-and-set: True only for the caller that moved the row.

        Raises :class:`IllegalTransitionError` (and changes nothing) for a move that
        :data:`TRANSITIONS` does not list."""
        states = require_moves(
            f"approval {approval_id}",
            (expected,) if isinstance(expected, State) else expected,
            new,
            TRANSITIONS,
            IllegalTransitionError,
        )
        statement = (
            update(Approval)
            .where(Approval.id == approval_id, Approval.state.in_([s.value for s in states]))
            .values(state=new.value, **values)
        )
        with self._db.session() as session:
            result = session.execute(statement)
            return rows_touched(result) == 1

    def renew_lease(self, approval_id: str, owner: str, until: datetime) -> bool:
        """Extend the lease of a fix this replica still holds (approved or running)."""
        statement = (
            update(Approval)
            .where(
                Approval.id == approval_id,
                Approval.lease_owner == owner,
                Approval.state.in_([State.APPROVED.value, State.RUNNING.value]),
            )
            .values(lease_until=until)
        )
        with self._db.session() as session:
            result = session.execute(statement)
            return rows_touched(result) == 1

    def in_states(self, *states: State) -> list[ApprovalRecord]:
        with self._db.session() as session:
            rows = session.execute(
                select(Approval).where(Approval.state.in_([s.value for s in states]))
            ).scalars()
            return [_record(row) for row in rows]

    def expired_requests(self, now: datetime) -> list[ApprovalRecord]:
        with self._db.session() as session:
            rows = session.execute(
                select(Approval).where(
                    Approval.state == State.REQUESTED.value, Approval.expires_at <= now
                )
            ).scalars()
            return [_record(row) for row in rows]

    # ---------------------------------------------------------------- follow-ups

    def add_followup(
        self,
        *,
        approval_id: str,
        host: str,
        due_at: datetime,
        channel: str | None,
        thread_ts: str | None,
        requested_by: str,
        before: dict[str, Any] | None,
    ) -> int:
        row = FollowUp(
            approval_id=approval_id,
            host=host.lower(),
            due_at=due_at,
            state="pending",
            channel=channel,
            thread_ts=thread_ts,
            requested_by=requested_by,
            before=before,
        )
        with self._db.session() as session:
            session.add(row)
            session.flush()
            return row.id

    def claim_due_followups(self, now: datetime) -> list[FollowUp]:
        """Due follow-ups this caller now owns (pending -> running by compare-and-set)."""
        with self._db.session() as session:
            due = (
                session.execute(
                    select(FollowUp.id).where(FollowUp.state == "pending", FollowUp.due_at <= now)
                )
                .scalars()
                .all()
            )
        claimed: list[FollowUp] = []
        for followup_id in due:
            with self._db.session() as session:
                result = session.execute(
                    update(FollowUp)
                    .where(FollowUp.id == followup_id, FollowUp.state == "pending")
                    .values(state="running")
                )
                if rows_touched(result) == 1:
                    row = session.get(FollowUp, followup_id)
                    assert row is not None
                    session.expunge(row)
                    claimed.append(row)
        return claimed

    def release_stale_followups(self, due_before: datetime) -> int:
        """Follow-ups left "running" by a process that died go back to "pending"."""
        with self._db.session() as session:
            result = session.execute(
                update(FollowUp)
                .where(FollowUp.state == "running", FollowUp.due_at <= due_before)
                .values(state="pending")
            )
            return rows_touched(result)

    def finish_followup(
        self, followup_id: int, outcome: FollowupOutcome, *, now: datetime, detail: str
    ) -> None:
        with self._db.session() as session:
            session.execute(
                update(FollowUp)
                .where(FollowUp.id == followup_id)
                .values(state="done", outcome=outcome.value, finished_at=now, detail=detail[:4000])
            )

    def finished_followups(self, since: datetime, fix_id: str) -> list[FollowupResult]:
        """Follow-ups of ``fix_id`` that finished since ``since``, oldest first."""
        query = (
            select(FollowUp, Approval.fix_id)
            .join(Approval, Approval.id == FollowUp.approval_id)
            .where(
                FollowUp.state == "done",
                FollowUp.finished_at.is_not(None),
                FollowUp.finished_at >= since,
                Approval.fix_id == fix_id,
            )
            .order_by(FollowUp.finished_at, FollowUp.id)
        )
        with self._db.session() as session:
            found = []
            for row, fix in session.execute(query):
                try:
                    outcome = FollowupOutcome(row.outcome or "")
                except ValueError:
                    continue
                assert row.finished_at is not None
                found.append(FollowupResult(row.host, fix, row.finished_at, outcome, row.detail))
            return found
