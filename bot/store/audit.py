"""The audit trail: append-only, queried by host and time (``wsusbot audit``)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from bot.store.db import Database, retrying_store
from bot.store.models import AuditEntry


class AuditAction(enum.StrEnum):
    """Stable words: never reuse one for another meaning (the issue's list, extended)."""

    CHECK = "check"
    CHECK_REFUSED = "check_refused"
    FIX_REQUESTED = "fix_requested"
    FIX_APPROVED = "fix_approved"
    FIX_DENIED = "fix_denied"
    FIX_REFUSED = "fix_refused"
    FIX_EXPIRED = "fix_expired"
    FIX_STARTED = "fix_started"
    FIX_SUCCEEDED = "fix_succeeded"
    FIX_FAILED = "fix_failed"
    FIX_OUTCOME_UNKNOWN = "fix_outcome_unknown"
    FIX_INTERRUPTED = "fix_interrupted"
    FIX_MARKED_DONE = "fix_marked_done"
    FOLLOWUP = "followup"
    DIGEST_POSTED = "digest_posted"
    #: ``wsusbot digest --now --dry-run``: the estate was read, nothing was posted
    DIGEST_PREVIEWED = "digest_previewed"
    BATCH_REQUESTED = "batch_requested"
    BATCH_REFUSED = "batch_refused"
    BATCH_APPROVED = "batch_approved"
    BATCH_DENIED = "batch_denied"
    BATCH_EXPIRED = "batch_expired"
    BATCH_PAUSED = "batch_paused"
    BATCH_RESUMED = "batch_resumed"
    BATCH_ABORTED = "batch_aborted"
    BATCH_HALTED = "batch_halted"
    BATCH_COMPLETED = "batch_completed"
    BATCH_INTERRUPTED = "batch_interrupted"
    #: one per host step: its outcome (fixed, failed, unverified, skipped)
    BATCH_HOST = "batch_host"
    BATCH_FOLLOWUP = "batch_followup"


@dataclass(frozen=True, slots=True)
class AuditRecord:
    time: datetime
    user: str
    action: str
    host: str | None = None
    check: str | None = None
    fix: str | None = None
    approval: str | None = None
    outcome: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "time": self.time.isoformat().replace("+00:00", "Z"),
            "user": self.user,
            "action": self.action,
            "host": self.host,
            "check": self.check,
            "fix": self.fix,
            "approval": self.approval,
            "outcome": self.outcome,
            "before": self.before,
            "after": self.after,
            "detail": self.detail,
        }


@retrying_store
class AuditLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    def write(self, record: AuditRecord) -> None:
        with self._db.session() as session:
            session.add(
                AuditEntry(
                    time=record.time,
                    user=record.user[:255],
                    action=record.action,
                    host=record.host,
                    check_id=record.check,
                    fix_id=record.fix,
                    approval_id=record.approval,
                    outcome=record.outcome,
                    before=record.before,
                    after=record.after,
                    detail=(record.detail or None) and record.detail[:2000],
                )
            )

    def query(
        self,
        *,
        host: str | None = None,
        since: datetime | None = None,
        action: str | None = None,
        approval: str | None = None,
        limit: int = 10_000,
    ) -> list[AuditRecord]:
        statement = select(AuditEntry).order_by(AuditEntry.time, AuditEntry.id).limit(limit)
        if host is not None:
            statement = statement.where(AuditEntry.host == host.lower())
        if since is not None:
            statement = statement.where(AuditEntry.time >= since)
        if action is not None:
            statement = statement.where(AuditEntry.action == action)
        if approval is not None:
            statement = statement.where(AuditEntry.approval_id == approval)
        with self._db.session() as session:
            return [
                AuditRecord(
                    time=row.time,
                    user=row.user,
                    action=row.action,
                    host=row.host,
                    check=row.check_id,
                    fix=row.fix_id,
                    approval=row.approval_id,
                    outcome=row.outcome,
                    before=row.before,
                    after=row.after,
                    detail=row.detail,
                )
                for row in session.execute(statement).scalars()
            ]
