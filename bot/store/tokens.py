"""Opaque button tokens: a button carries a random token; the meaning stays here."""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete

from bot.store.db import Database, retrying_store, rows_touched
from bot.store.models import ActionToken


class TokenKind(enum.StrEnum):
    """What a button token is for; the use case that reads it checks the kind."""

    FIX_REQUEST = "fix_request"
    APPROVAL = "approval"
    DIGEST_CHECK = "digest_check"
    #: a digest cause group's "Fix these hosts" (the hosts and the fix in the payload)
    BATCH_DIGEST = "batch_digest"
    #: a batch card's buttons (Approve, Deny, Pause, Resume, Abort)
    BATCH = "batch"


@dataclass(frozen=True, slots=True)
class TokenData:
    token: str
    kind: str
    host: str | None
    payload: dict[str, Any]
    channel: str | None
    expires_at: datetime


@retrying_store
class TokenStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def issue(
        self,
        kind: str,
        *,
        host: str | None,
        payload: dict[str, Any],
        channel: str | None,
        now: datetime,
        expires_at: datetime,
    ) -> str:
        token = secrets.token_urlsafe(18)
        with self._db.session() as session:
            session.add(
                ActionToken(
                    token=token,
                    kind=kind,
                    host=host,
                    payload=payload,
                    channel=channel,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
        return token

    def get(self, token: str) -> TokenData | None:
        if not token or len(token) > 64:
            return None
        with self._db.session() as session:
            row = session.get(ActionToken, token)
            if row is None:
                return None
            return TokenData(
                row.token, row.kind, row.host, row.payload, row.channel, row.expires_at
            )

    def purge(self, now: datetime) -> int:
        with self._db.session() as session:
            result = session.execute(delete(ActionToken).where(ActionToken.expires_at < now))
            return rows_touched(result)
