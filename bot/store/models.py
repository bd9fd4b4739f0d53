"""Tables. Every schema change comes with an Alembic migration in ``migrations/versions``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, whatever the backend keeps (SQLite keeps naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use aware UTC times")
        utc = value.astimezone(UTC)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002 - SQLAlchemy's signature
    ) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, datetime: UtcDateTime()}


class CheckRun(Base):
    __tablename__ = "check_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    host: Mapped[str] = mapped_column(String(255))
    role: Mapped[str | None] = mapped_column(String(16))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    #: "cli:<os user>" or the Slack user id
    requested_by: Mapped[str] = mapped_column(String(255))
    verdict: Mapped[str] = mapped_column(String(16))
    unreachable_reason: Mapped[str | None] = mapped_column(String(64))
    facts: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    report: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (Index("ix_check_runs_host_finished", "host", "finished_at"),)


class KeyValue(Base):
    """Small durable markers (e.g. Slack command dedupe keys) with an expiry."""

    __tablename__ = "markers"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class AuditEntry(Base):
    """Append-only: rows are inserted, never updated or deleted."""

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    time: Mapped[datetime]
    user: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(32))
    host: Mapped[str | None] = mapped_column(String(255))
    check_id: Mapped[str | None] = mapped_column(String(64))
    fix_id: Mapped[str | None] = mapped_column(String(64))
    approval_id: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    detail: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_audit_time", "time"), Index("ix_audit_host", "host"))


class Approval(Base):
    """A fix request. ``state`` only moves forward, by compare-and-set on (id, state)."""

    __tablename__ = "approvals"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    fix_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[str] = mapped_column(String(255))
    requested_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(255))
    decided_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    channel: Mapped[str | None] = mapped_column(String(64))
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    #: the check run whose findings proposed this fix
    run_id: Mapped[int | None] = mapped_column(Integer)
    #: facts values relevant to the fix before it ran (e.g. LastWaitTimeout for follow-up)
    context: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    error: Mapped[str | None] = mapped_column(Text)
    #: the replica working on an approved/running fix, and until when it says it is alive
    #: (renewed while the fix runs; a lapsed lease means that replica is gone)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]

    __table_args__ = (Index("ix_approvals_state", "state"),)


class CheckPost(Base):
    """A check whose "checking…" message is posted and whose verdict is not yet: after a
    crash, what is left here is told "interrupted" instead of hanging at "checking…"."""

    __tablename__ = "check_posts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(64))
    ts: Mapped[str] = mapped_column(String(32))
    host: Mapped[str] = mapped_column(String(255))
    requested_by: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime]
    owner: Mapped[str] = mapped_column(String(64))
    #: past this, no live replica is still working on it (the per-host deadline + margin)
    lease_until: Mapped[datetime]
    #: "running" -> "done" | "interrupted", by compare-and-set
    state: Mapped[str] = mapped_column(String(16))

    __table_args__ = (Index("ix_check_posts_state", "state", "lease_until"),)


class ActionToken(Base):
    """Opaque button values: the button carries the token, the server keeps the meaning."""

    __tablename__ = "action_tokens"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    host: Mapped[str | None] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    channel: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class FollowUp(Base):
    """A check to run later (self-update takes 6-10 minutes), by the bot's clock."""

    __tablename__ = "followups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    approval_id: Mapped[str] = mapped_column(String(64))
    host: Mapped[str] = mapped_column(String(255))
    due_at: Mapped[datetime]
    #: "pending" -> "running" -> "done": claimed by compare-and-set, so it runs once
    state: Mapped[str] = mapped_column(String(16))
    channel: Mapped[str | None] = mapped_column(String(64))
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    requested_by: Mapped[str] = mapped_column(String(255))
    #: what the fix saw before it ran (the seed's LastWaitTimeout rule compares with it)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    #: a :class:`checks.followup.FollowupOutcome` value once done
    outcome: Mapped[str | None] = mapped_column(String(32))
    finished_at: Mapped[datetime | None]
    detail: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_followups_state_due", "state", "due_at"),
        Index("ix_followups_finished", "finished_at"),
    )


class Batch(Base):
    """One approval for one fix on many hosts: canary, then waves. ``state`` moves only by
    compare-and-set on (id, state); ``lease_owner`` names the one executor allowed to
    start host steps (a replica plus a generation, so a Resume retires an old loop)."""

    __tablename__ = "batches"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    fix_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(24))
    #: where the host list came from: "group:<name>" or "digest:<id>:<cause>"
    source: Mapped[str] = mapped_column(String(255))
    requested_by: Mapped[str] = mapped_column(String(255))
    requested_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(255))
    decided_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    channel: Mapped[str | None] = mapped_column(String(64))
    thread_ts: Mapped[str | None] = mapped_column(String(32))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    #: canary, wave_size, failure_threshold, pause_s, concurrency, host_deadline_s
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: the card buttons' opaque token (the card is redrawn with it as the batch moves)
    token: Mapped[str | None] = mapped_column(String(64))
    #: hosts of the source left out at request time (their latest check did not propose it)
    left_out: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    #: why the batch stopped on its own (canary failed, threshold exceeded), or was stopped
    reason: Mapped[str | None] = mapped_column(Text)
    #: who paused / resumed / aborted / confirmed last, for the card
    actor: Mapped[str | None] = mapped_column(String(255))
    lease_owner: Mapped[str | None] = mapped_column(String(96))
    lease_until: Mapped[datetime | None]
    #: the summary and the follow-up summary are posted once (claimed by compare-and-set)
    summary_posted: Mapped[bool] = mapped_column(Boolean, default=False)
    followups_posted: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (Index("ix_batches_state", "state"),)


class BatchHost(Base):
    """One host's step in a batch: ``pending -> started -> fixed | failed | unverified``,
    or ``pending -> skipped``. Claimed by compare-and-set, so a host runs at most once; a
    step found ``started`` after a crash is never run again (its outcome is unknown)."""

    __tablename__ = "batch_hosts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(String(64))
    host: Mapped[str] = mapped_column(String(255))
    #: the order hosts run in; wave 0 is the canary
    position: Mapped[int] = mapped_column(Integer)
    wave: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    #: the executor that claimed the step
    owner: Mapped[str | None] = mapped_column(String(96))
    #: facts before the fix (the follow-up's 24-hour rule compares LastWaitTimeout)
    context: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    detail: Mapped[str | None] = mapped_column(Text)
    #: the follow-up: "pending" -> "running" -> "done", by compare-and-set
    followup_due_at: Mapped[datetime | None]
    followup_state: Mapped[str | None] = mapped_column(String(16))
    followup_outcome: Mapped[str | None] = mapped_column(String(32))
    followup_detail: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("batch_id", "host", name="uq_batch_hosts_batch_host"),
        Index("ix_batch_hosts_batch", "batch_id", "position"),
        Index("ix_batch_hosts_followup", "followup_state", "followup_due_at"),
    )
