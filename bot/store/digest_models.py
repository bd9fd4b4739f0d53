"""Tables of the digests: slot claims, each run's stalled set, and the IIS log
state read incrementally per server. Same ``Base`` as the other tables; the schema comes
from migration 0003."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.store.models import Base


class DigestSlot(Base):
    """One row per digest and schedule slot, inserted before posting: the UNIQUE
    constraint is what makes a second replica (or a restarted process) skip the slot."""

    __tablename__ = "digest_slots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    digest_id: Mapped[str] = mapped_column(String(64))
    slot: Mapped[str] = mapped_column(String(80))
    claimed_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("digest_id", "slot", name="uq_digest_slots_digest_slot"),)


class DigestRun(Base):
    """What one digest posted: host -> causes, the base of the next run's trend."""

    __tablename__ = "digest_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    digest_id: Mapped[str] = mapped_column(String(64), index=True)
    slot: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime]
    channel: Mapped[str | None] = mapped_column(String(64))
    message_ts: Mapped[str | None] = mapped_column(String(32))
    stalled: Mapped[dict[str, Any]] = mapped_column(JSON)


class LogCursorRow(Base):
    """Where the next incremental read of a server's IIS logs starts."""

    __tablename__ = "log_cursors"

    server: Mapped[str] = mapped_column(String(255), primary_key=True)
    file: Mapped[str | None] = mapped_column(String(255))
    offset: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime]


class LogFailureRow(Base):
    """Failing self-update answers per server, client IP, path and status, accumulated
    over the incremental reads (each read sees only the new lines)."""

    __tablename__ = "log_failures"

    server: Mapped[str] = mapped_column(String(255), primary_key=True)
    client_ip: Mapped[str] = mapped_column(String(64), primary_key=True)
    path: Mapped[str] = mapped_column(String(255), primary_key=True)
    status: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    #: the newest success of this client on this path: a later success ends the failure
    last_success: Mapped[datetime | None]
