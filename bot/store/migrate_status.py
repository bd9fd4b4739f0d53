"""Where a database stands against this version's migrations (doctor, ``db status``)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from sqlalchemy.exc import SQLAlchemyError

from bot.store.db import Database, redact_url
from checks.errors import StoreError


@dataclass(frozen=True, slots=True)
class MigrationStatus:
    current: frozenset[str]
    heads: frozenset[str]

    @property
    def up_to_date(self) -> bool:
        return self.current == self.heads

    @property
    def shown_current(self) -> str:
        return ", ".join(sorted(self.current)) or "an empty database"


def code_heads() -> frozenset[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(resources.files("bot.store") / "migrations"))
    return frozenset(ScriptDirectory.from_config(config).get_heads())


def migration_status(db: Database) -> MigrationStatus:
    from alembic.runtime.migration import MigrationContext

    try:
        with db.engine.connect() as connection:
            current = frozenset(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as exc:
        raise StoreError(
            f"cannot read the migration level of {redact_url(db.url)}: {type(exc).__name__}"
        ) from None
    return MigrationStatus(current, code_heads())
