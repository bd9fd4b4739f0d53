"""The worker's fix ledger: one row per idempotency key, written before the fix runs.

A fix task claims its key in a SQLite file in the worker's state directory and commits
(``synchronous=FULL``) before the fix probe is sent; the answer is written after. A task
whose key is already claimed never runs: if the first run finished, its recorded result is
the answer; if it did not (the worker died mid-fix), the outcome is unknown and the fix is
not run again. The broker's redelivery, a duplicated publish and a second worker of the
same site sharing the state directory all meet the same row.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from checks.errors import ConfigError, UsageError

KEY = re.compile(r"[A-Za-z0-9_.:-]{1,120}", re.ASCII)


@dataclass(frozen=True, slots=True)
class Claim:
    key: str
    task_id: str
    host: str
    fix: str
    claimed_at: str
    finished_at: str | None
    answer: dict[str, Any] | None


class FixLedger:
    def __init__(self, path: Path) -> None:
        self._path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as db:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute(
                    "CREATE TABLE IF NOT EXISTS fix_claims ("
                    " key TEXT PRIMARY KEY, task_id TEXT NOT NULL, host TEXT NOT NULL,"
                    " fix TEXT NOT NULL, claimed_at TEXT NOT NULL, finished_at TEXT,"
                    " answer TEXT)"
                )
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open the worker's fix ledger {path}: {exc}") from exc

    @property
    def path(self) -> Path:
        return self._path

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self._path, timeout=30, isolation_level=None)
        db.execute("PRAGMA synchronous=FULL")
        return db

    def claim(self, key: str, *, task_id: str, host: str, fix: str) -> Claim | None:
        """Claim ``key`` for this run: None when claimed now, else the earlier claim."""
        if not KEY.fullmatch(key):
            raise UsageError("a fix task's idempotency key must be 1-120 of A-Z a-z 0-9 _ . : -")
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            cursor = db.execute(
                "INSERT INTO fix_claims (key, task_id, host, fix, claimed_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO NOTHING",
                (key, task_id, host, fix, _now()),
            )
            db.execute("COMMIT")
            if cursor.rowcount == 1:
                return None
            return self.get(key)
        finally:
            db.close()

    def finish(self, key: str, answer: dict[str, Any]) -> None:
        db = self._connect()
        try:
            db.execute(
                "UPDATE fix_claims SET finished_at = ?, answer = ? WHERE key = ?",
                (_now(), json.dumps(answer), key),
            )
        finally:
            db.close()

    def get(self, key: str) -> Claim | None:
        db = self._connect()
        try:
            row = db.execute(
                "SELECT key, task_id, host, fix, claimed_at, finished_at, answer "
                "FROM fix_claims WHERE key = ?",
                (key,),
            ).fetchone()
        finally:
            db.close()
        if row is None:
            return None
        key, task_id, host, fix, claimed_at, finished_at, answer = row
        return Claim(
            key, task_id, host, fix, claimed_at, finished_at, json.loads(answer) if answer else None
        )

    def claims(self) -> list[Claim]:
        db = self._connect()
        try:
            keys = [r[0] for r in db.execute("SELECT key FROM fix_claims ORDER BY claimed_at")]
        finally:
            db.close()
        return [c for c in (self.get(k) for k in keys) if c is not None]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
