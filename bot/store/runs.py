"""Check history: one row per host check (CLI, Slack, schedule, follow-up)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, func, insert, select

from bot.store.db import Database, retrying_store
from bot.store.models import CheckRun, KeyValue
from checks.report import Report


@dataclass(frozen=True, slots=True)
class RunSummary:
    id: int
    host: str
    role: str | None
    verdict: str
    started_at: datetime
    finished_at: datetime
    requested_by: str
    unreachable_reason: str | None
    report: dict[str, Any]


def _summary(row: CheckRun) -> RunSummary:
    return RunSummary(
        id=row.id,
        host=row.host,
        role=row.role,
        verdict=row.verdict,
        started_at=row.started_at,
        finished_at=row.finished_at,
        requested_by=row.requested_by,
        unreachable_reason=row.unreachable_reason,
        report=row.report,
    )


@retrying_store
class RunStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, report: Report, facts: dict[str, Any] | None, requested_by: str) -> int:
        assert report.started_at is not None
        assert report.finished_at is not None
        # a Core INSERT, not session.add(): a fleet check records a row per host, and the
        # ORM's unit of work cost more CPU per host than the WinRM exchange (bench/README.md)
        statement = insert(cast(Table, CheckRun.__table__)).values(
            host=report.host.lower(),
            role=report.role,
            started_at=report.started_at,
            finished_at=report.finished_at,
            requested_by=requested_by[:255],
            verdict=report.verdict.value,
            unreachable_reason=report.unreachable_reason,
            facts=facts,
            report=report.to_json(),
        )
        with self._db.session() as session:
            key = session.connection().execute(statement).inserted_primary_key
            assert key is not None
            return int(key[0])

    def previous_facts(self, host: str) -> dict[str, Any] | None:
        """The facts of the newest run of ``host`` that could read the host."""
        query = (
            select(CheckRun.facts)
            .where(CheckRun.host == host.lower(), CheckRun.facts.is_not(None))
            .order_by(CheckRun.finished_at.desc(), CheckRun.id.desc())
            .limit(1)
        )
        with self._db.session() as session:
            return session.execute(query).scalar_one_or_none()

    def history(self, host: str, limit: int = 20) -> list[RunSummary]:
        query = (
            select(CheckRun)
            .where(CheckRun.host == host.lower())
            .order_by(CheckRun.finished_at.desc(), CheckRun.id.desc())
            .limit(limit)
        )
        with self._db.session() as session:
            return [_summary(row) for row in session.execute(query).scalars()]

    def latest_per_host(
        self, limit: int | None = 100, hosts: list[str] | None = None
    ) -> list[RunSummary]:
        """The newest run of each host (of ``hosts`` when given), in one query."""
        newest_query = select(CheckRun.host, func.max(CheckRun.id).label("id"))
        if hosts is not None:
            newest_query = newest_query.where(CheckRun.host.in_([h.lower() for h in hosts]))
        newest = newest_query.group_by(CheckRun.host).subquery()
        query = (
            select(CheckRun)
            .join(newest, CheckRun.id == newest.c.id)
            .order_by(CheckRun.finished_at.desc())
            .limit(limit)
        )
        with self._db.session() as session:
            return [_summary(row) for row in session.execute(query).scalars()]

    def count(self, host: str | None = None) -> int:
        query = select(func.count(CheckRun.id))
        if host is not None:
            query = query.where(CheckRun.host == host.lower())
        with self._db.session() as session:
            return int(session.execute(query).scalar_one())


@retrying_store
class MarkerStore:
    """Durable claim-once markers: the database, not memory, says whether a key was seen."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def claim(self, key: str, now: datetime, expires_at: datetime, value: str = "") -> bool:
        """True for the first caller of ``key`` (until it expires); False for every other."""
        from sqlalchemy.exc import IntegrityError

        with self._db.session() as session:
            session.execute(delete(KeyValue).where(KeyValue.expires_at < now))
        try:
            with self._db.engine.begin() as connection:
                connection.execute(
                    insert(KeyValue).values(
                        key=key[:255], value=value, created_at=now, expires_at=expires_at
                    )
                )
        except IntegrityError:
            return False
        return True

    def release(self, key: str) -> None:
        """Forget a claim, so the next caller of ``key`` wins again (the work failed)."""
        with self._db.session() as session:
            session.execute(delete(KeyValue).where(KeyValue.key == key[:255]))
