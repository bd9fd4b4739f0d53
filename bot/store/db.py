"""Engine creation and migrations. SQLite file by default; PostgreSQL by URL."""

from __future__ import annotations

import contextlib
import enum
import functools
import inspect
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from checks.errors import StoreError

log = logging.getLogger(__name__)

StateT = TypeVar("StateT", bound=enum.Enum)
P = ParamSpec("P")
T = TypeVar("T")
C = TypeVar("C")

MIGRATION_LOCK_KEY = 0x7755_5301
#: Alembic keeps its migration context in module globals: one migration per process at a time
_MIGRATING = threading.Lock()


def normalise_url(url: str) -> str:
    """Plain ``postgresql://`` URLs use psycopg 3 (the driver we ship)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def redact_url(url: str) -> str:
    """A URL fit for logs and error messages: no password."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else f"{scheme}://{user}@{host}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (Slack home tab, CLI history) run while the bot writes
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Database:
    """One engine and session factory per process; created by the composition root."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        if self.url.startswith("sqlite:///") and not self.url.startswith("sqlite:///:memory:"):
            path = Path(self.url[len("sqlite:///") :])
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the database folder {path.parent}") from exc
        try:
            self.engine: Engine = create_engine(self.url, pool_pre_ping=True)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise StoreError(f"bad database URL {redact_url(self.url)}: {exc}") from None
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self) -> None:
        """Bring the schema to the newest migration (idempotent)."""
        config = Config()
        location = resources.files("bot.store") / "migrations"
        config.set_main_option("script_location", str(location))
        try:
            with _MIGRATING, self.engine.begin() as connection:
                if self.dialect == "postgresql":
                    # replicas starting together must not run the same migration twice
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                    )
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except SQLAlchemyError as exc:
            raise StoreError(
                f"cannot migrate the database at {redact_url(self.url)}: "
                f"{type(exc.orig if hasattr(exc, 'orig') else exc).__name__}"
            ) from None

    def ping(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except SQLAlchemyError:
            return False
        return True

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = self._sessions()
        try:
            yield session
            session.commit()
        except SQLAlchemyError as exc:
            _quiet_rollback(session)
            if _is_disconnect(exc, self.dialect):
                raise StoreUnavailableError(
                    f"the database is unreachable: {type(exc).__name__}: {_short(exc)}"
                ) from None
            raise StoreError(f"database error: {type(exc).__name__}: {_short(exc)}") from None
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


class StoreUnavailableError(StoreError):
    """The database server could not be reached (restarting, failing over): retryable."""


def _is_disconnect(exc: SQLAlchemyError, dialect: str) -> bool:
    """A lost or refused server connection (never SQLite's errors: a file has no server)."""
    if dialect == "sqlite":
        return False
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError)


def _quiet_rollback(session: Session) -> None:
    # the connection may be gone; the pool discards it
    with contextlib.suppress(SQLAlchemyError):
        session.rollback()


#: how long a store call waits out a database restart or fail-over before giving up
RETRY_FOR_S = 30.0


def retry_unavailable(method: Callable[P, T]) -> Callable[P, T]:
    """Run a store call again while the database is unreachable (a restart or fail-over),
    up to :data:`RETRY_FOR_S`. Every store call is one transaction: one that failed on a
    lost connection committed nothing, and its compare-and-set runs again as it was."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        deadline = time.monotonic() + RETRY_FOR_S
        delay = 0.1
        while True:
            try:
                return method(*args, **kwargs)
            except (StoreUnavailableError, OperationalError, InterfaceError) as exc:
                # a store method that used the engine directly raises SQLAlchemy's own
                if not isinstance(exc, StoreUnavailableError) and not _is_disconnect(
                    exc, _dialect_of(args)
                ):
                    raise
                if time.monotonic() + delay > deadline:
                    raise
                log.warning("database unreachable; retrying %s in %.1fs", method.__name__, delay)
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    return wrapper


def _dialect_of(args: tuple[object, ...]) -> str:
    store = args[0] if args else None
    database = getattr(store, "_db", None)
    return database.dialect if isinstance(database, Database) else ""


def retrying_store(cls: type[C]) -> type[C]:
    """Apply :func:`retry_unavailable` to every public method of a store class."""
    for name, value in list(vars(cls).items()):
        if not name.startswith("_") and inspect.isfunction(value):
            setattr(cls, name, retry_unavailable(value))
    return cls


def _short(exc: SQLAlchemyError) -> str:
    text = str(getattr(exc, "orig", exc)).splitlines()[0] if str(exc) else ""
    return text[:200]


def rows_touched(result: Any) -> int:
    """How many rows an UPDATE or DELETE changed (the compare-and-set's answer)."""
    return int(getattr(result, "rowcount", 0) or 0)


def require_moves(
    what: str,
    expected: Iterable[StateT],
    new: StateT,
    transitions: Mapping[StateT, frozenset[StateT]],
    error: type[Exception],
) -> list[StateT]:
    """The states a compare-and-set may move from, after checking each move against the
    state machine: ``error`` (and nothing changed) for a move it does not list."""
    states = list(expected)
    illegal = [s for s in states if new not in transitions[s]]
    if illegal:
        raise error(
            f"{what}: {', '.join(s.value for s in illegal)} -> {new.value} is not an allowed move"
        )
    return states
