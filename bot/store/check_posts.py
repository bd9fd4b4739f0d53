"""Checks in flight: the "checking…" message of each, until its verdict is posted.

A row moves ``running -> posting`` when its verdict is ready (the run is recorded), then
``posting -> done`` once the message shows it. When the process that ran it is gone (its
lease lapsed, or, with SQLite, the one process restarted), ``running`` or ``posting`` moves
to ``interrupted`` and the message is told so instead of hanging at "checking…". Two steps,
because a process killed between recording the verdict and updating the message must not
leave a row that says "done" over a message that still says "checking…"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from bot.store.db import Database, retrying_store, rows_touched
from bot.store.models import CheckPost

RUNNING = "running"
#: the verdict is recorded and being posted
POSTING = "posting"
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
    #: ``running`` (no verdict yet) or ``posting`` (recorded, maybe not shown)
    state: str = RUNNING


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

    def _move(self, post_id: int, old: tuple[str, ...], new: str) -> bool:
        with self._db.session() as session:
            result = session.execute(
                update(CheckPost)
                .where(CheckPost.id == post_id, CheckPost.state.in_(old))
                .values(state=new)
            )
            return rows_touched(result) == 1

    def posting(self, post_id: int) -> bool:
        """running -> posting: False when recovery already told the message "interrupted"."""
        return self._move(post_id, (RUNNING,), POSTING)

    def finish(self, post_id: int) -> bool:
        """posting -> done, once the message shows the verdict."""
        return self._move(post_id, (POSTING,), DONE)

    def interrupt(self, post_id: int) -> bool:
        """running/posting -> interrupted by compare-and-set: True for the one caller that
        moved it."""
        return self._move(post_id, (RUNNING, POSTING), INTERRUPTED)

    def orphans(self, now: datetime, *, every_running: bool = False) -> list[InFlightCheck]:
        """Checks nobody is working on any more: their lease lapsed (or, ``every_running``,
        all of them: a single-process store right after that process restarted)."""
        query = select(CheckPost).where(CheckPost.state.in_((RUNNING, POSTING)))
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
                    row.state,
                )
                for row in session.execute(query.order_by(CheckPost.id)).scalars()
            ]
