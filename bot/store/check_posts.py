"""Checks in flight: the "checking…" message of each, until its verdict is posted.

A row moves ``running -> done`` when the verdict is posted, or ``running -> interrupted``
when the process that ran it is gone (its lease lapsed, or, with SQLite, the one process
restarted): then the message is told so instead of hanging at "checking…"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from bot.store.db import Database, retrying_store
from bot.store.models import CheckPost

RUNNING = "running"
DONE = "done"
INTERRUPTED = "interrupted"


@dataclass(frozen=True, slots=True)
class InFlightCheck:
    id: int
    channel: str
    ts: str
    host: str
    requested_by: str
    started_at: datetime
    owner: str
    lease_until: datetime


@retrying_store
class CheckPostStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def start(
        self,
        *,
        channel: str,
        ts: str,
        host: str,
        requested_by: str,
        owner: str,
        now: datetime,
        lease_until: datetime,
    ) -> int:
        row = CheckPost(
            channel=channel,
            ts=ts,
            host=host.lower(),
            requested_by=requested_by,
            started_at=now,
            owner=owner,
            lease_until=lease_until,
            state=RUNNING,
        )
        with self._db.session() as session:
            session.add(row)
            session.flush()
            return row.id

    def _move(self, post_id: int, new: str) -> bool:
        with self._db.session() as session:
            result = session.execute(
                update(CheckPost)
                .where(CheckPost.id == post_id, CheckPost.state == RUNNING)
                .values(state=new)
            )
            return int(getattr(result, "rowcount", 0) or 0) == 1

    def finish(self, post_id: int) -> bool:
        return self._move(post_id, DONE)

    def interrupt(self, post_id: int) -> bool:
        """running -> interrupted by compare-and-set: True for the one caller that moved it."""
        return self._move(post_id, INTERRUPTED)

    def orphans(self, now: datetime, *, every_running: bool = False) -> list[InFlightCheck]:
        """Checks nobody is working on any more: their lease lapsed (or, ``every_running``,
        all of them: a single-process store right after that process restarted)."""
        query = select(CheckPost).where(CheckPost.state == RUNNING)
        if not every_running:
            query = query.where(CheckPost.lease_until <= now)
        with self._db.session() as session:
            return [
                InFlightCheck(
                    row.id,
                    row.channel,
                    row.ts,
                    row.host,
                    row.requested_by,
                    row.started_at,
                    row.owner,
                    row.lease_until,
                )
                for row in session.execute(query.order_by(CheckPost.id)).scalars()
            ]
