"""Digest state in the database: slot claims (exactly one post per slot), each run's
stalled set (the trend), and the IIS log cursor and accumulated failures per server."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from bot.store.approvals import State
from bot.store.db import Database, retrying_store, rows_touched
from bot.store.digest_models import DigestRun, DigestSlot, LogCursorRow, LogFailureRow
from bot.store.models import Approval
from checks.facts import LogCursor

#: host -> cause ids, as stored per run
StalledSet = dict[str, list[str]]

#: how many of a host's newest succeeded fixes are looked at for a verified one
_VERIFIED_FIX_SCAN = 50


@dataclass(frozen=True, slots=True)
class LogFailureState:
    server: str
    client_ip: str
    path: str
    status: int
    count: int
    first_seen: datetime
    last_seen: datetime
    last_success: datetime | None

    @property
    def still_failing(self) -> bool:
        return self.last_success is None or self.last_success < self.last_seen


@dataclass(frozen=True, slots=True)
class LogObservation:
    """What one incremental read saw for one (client IP, path): failures and successes."""

    client_ip: str
    path: str
    status: int | None
    count: int
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class PreviousRun:
    slot: str
    created_at: datetime
    stalled: StalledSet


@retrying_store
class DigestStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    # ---------------------------------------------------------------- slots and runs

    def claim_slot(self, digest_id: str, slot: str, now: datetime) -> bool:
        """True for the one caller that inserts (digest_id, slot); False for all others."""
        try:
            with self._db.engine.begin() as connection:
                connection.execute(
                    insert(DigestSlot).values(digest_id=digest_id, slot=slot, claimed_at=now)
                )
        except IntegrityError:
            return False
        return True

    def record_run(
        self,
        digest_id: str,
        slot: str,
        now: datetime,
        stalled: Mapping[str, Sequence[str]],
        *,
        channel: str | None,
        message_ts: str | None,
    ) -> int:
        row = DigestRun(
            digest_id=digest_id,
            slot=slot,
            created_at=now,
            channel=channel,
            message_ts=message_ts,
            stalled={host: sorted(causes) for host, causes in stalled.items()},
        )
        with self._db.session() as session:
            session.add(row)
            session.flush()
            return row.id

    def previous_run(self, digest_id: str) -> PreviousRun | None:
        query = (
            select(DigestRun)
            .where(DigestRun.digest_id == digest_id)
            .order_by(DigestRun.created_at.desc(), DigestRun.id.desc())
            .limit(1)
        )
        with self._db.session() as session:
            row = session.execute(query).scalar_one_or_none()
            if row is None:
                return None
            stalled = {str(h): [str(c) for c in causes] for h, causes in row.stalled.items()}
            return PreviousRun(row.slot, row.created_at, stalled)

    def runs_since(self, digest_id: str, since: datetime) -> list[PreviousRun]:
        """Every run of ``digest_id`` from ``since`` on, oldest first (the chart's data)."""
        query = (
            select(DigestRun)
            .where(DigestRun.digest_id == digest_id, DigestRun.created_at >= since)
            .order_by(DigestRun.created_at, DigestRun.id)
        )
        with self._db.session() as session:
            return [
                PreviousRun(
                    row.slot,
                    row.created_at,
                    {str(h): [str(c) for c in causes] for h, causes in row.stalled.items()},
                )
                for row in session.execute(query).scalars()
            ]

    def slots(self, digest_id: str) -> list[str]:
        query = select(DigestSlot.slot).where(DigestSlot.digest_id == digest_id)
        with self._db.session() as session:
            return sorted(session.execute(query).scalars())

    # ---------------------------------------------------------------- IIS log state

    def cursor(self, server: str) -> LogCursor | None:
        with self._db.session() as session:
            row = session.get(LogCursorRow, server.lower())
            if row is None:
                return None
            return LogCursor(file=row.file, offset=row.offset)

    def save_cursor(self, server: str, cursor: LogCursor, now: datetime) -> None:
        with self._db.session() as session:
            row = session.get(LogCursorRow, server.lower())
            if row is None:
                session.add(
                    LogCursorRow(
                        server=server.lower(),
                        file=cursor.file,
                        offset=cursor.offset,
                        updated_at=now,
                    )
                )
            else:
                row.file, row.offset, row.updated_at = cursor.file, cursor.offset, now

    def merge_observations(self, server: str, observations: Iterable[LogObservation]) -> None:
        """Fold one read's failures (status set) and successes (status None) into the
        accumulated rows; a success updates every failing row of that client and path."""
        key = server.lower()
        with self._db.session() as session:
            rows = {
                (r.client_ip, r.path.lower(), r.status): r
                for r in session.execute(
                    select(LogFailureRow).where(LogFailureRow.server == key)
                ).scalars()
            }
            successes: dict[tuple[str, str], datetime] = {}
            for seen in observations:
                if seen.status is None:
                    pair = (seen.client_ip, seen.path.lower())
                    successes[pair] = max(seen.last_seen, successes.get(pair, seen.last_seen))
                    continue
                row = rows.get((seen.client_ip, seen.path.lower(), seen.status))
                if row is None:
                    row = LogFailureRow(
                        server=key,
                        client_ip=seen.client_ip,
                        path=seen.path,
                        status=seen.status,
                        count=seen.count,
                        first_seen=seen.first_seen,
                        last_seen=seen.last_seen,
                        last_success=None,
                    )
                    session.add(row)
                    rows[(seen.client_ip, seen.path.lower(), seen.status)] = row
                else:
                    row.count += seen.count
                    row.first_seen = min(row.first_seen, seen.first_seen)
                    row.last_seen = max(row.last_seen, seen.last_seen)
            for (client_ip, path, _status), row in rows.items():
                success = successes.get((client_ip, path))
                if success is not None and (row.last_success is None or success > row.last_success):
                    row.last_success = success

    def log_failures(self, server: str, since: datetime) -> list[LogFailureState]:
        """Rows of ``server`` whose last failure is at or after ``since``."""
        query = (
            select(LogFailureRow)
            .where(LogFailureRow.server == server.lower(), LogFailureRow.last_seen >= since)
            .order_by(LogFailureRow.client_ip, LogFailureRow.path, LogFailureRow.status)
        )
        with self._db.session() as session:
            return [
                LogFailureState(
                    r.server,
                    r.client_ip,
                    r.path,
                    r.status,
                    r.count,
                    r.first_seen,
                    r.last_seen,
                    r.last_success,
                )
                for r in session.execute(query).scalars()
            ]

    def forget_log_failures(self, server: str, before: datetime) -> int:
        """Drop rows whose last failure is older than ``before`` (bounded table)."""
        with self._db.session() as session:
            result = session.execute(
                delete(LogFailureRow).where(
                    LogFailureRow.server == server.lower(), LogFailureRow.last_seen < before
                )
            )
            return rows_touched(result)

    # ---------------------------------------------------------------- verified fixes

    def last_verified_fix(self, host: str) -> datetime | None:
        """When a fix on ``host`` last finished with its re-check passing (the verifying
        checks all pass: ``result.outcome == "fixed"``, or ``recheck_ok`` after an
        unknown outcome); None when never. IIS log failures before it are history."""
        query = (
            select(Approval.finished_at, Approval.result)
            .where(
                Approval.host == host.lower(),
                Approval.state == State.SUCCEEDED.value,
                Approval.finished_at.is_not(None),
            )
            .order_by(Approval.finished_at.desc())
            .limit(_VERIFIED_FIX_SCAN)
        )
        with self._db.session() as session:
            for finished_at, result in session.execute(query):
                payload = result or {}
                if payload.get("outcome") == "fixed" or payload.get("recheck_ok") is True:
                    return finished_at  # type: ignore[no-any-return]
        return None
