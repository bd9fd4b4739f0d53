"""Shared fixtures: databases (SQLite always, PostgreSQL when configured), and the lab's
NTLM account and TLS files for WS-Management tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from bot.store.db import Database, normalise_url
from lab.wsman.tls import TlsFiles

POSTGRES_URL = os.environ.get("WSUSBOT_TEST_POSTGRES_URL")


def reset_postgres(url: str) -> None:
    """Drop everything in the public schema so each test starts from migration zero."""
    engine = create_engine(normalise_url(url))
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()


def _backends() -> list[str]:
    return ["sqlite", "postgres"] if POSTGRES_URL else ["sqlite"]


@pytest.fixture(params=_backends())
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        assert POSTGRES_URL is not None
        reset_postgres(POSTGRES_URL)
        return POSTGRES_URL
    return f"sqlite:///{tmp_path / 'wsusbot.sqlite'}"


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    db = Database(database_url)
    db.migrate()
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def ntlm_user_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The lab account (tests.wsman_support.NTLM_USER) installed for one test module."""
    from tests.wsman_support import ntlm_users_installed

    with ntlm_users_installed(tmp_path_factory.mktemp("ntlm")) as path:
        yield path


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A CA and a server certificate for 127.0.0.1."""
    from lab.wsman import generate_tls_files

    return generate_tls_files(tmp_path_factory.mktemp("tls"), addresses=["127.0.0.1"])
