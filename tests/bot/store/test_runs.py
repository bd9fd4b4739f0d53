"""Check history on SQLite (always) and PostgreSQL (WSUSBOT_TEST_POSTGRES_URL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.store.db import Database, redact_url
from bot.store.runs import MarkerStore, RunStore
from checks.model import Finding, Status
from checks.report import Report

T0 = datetime(2026, 11, 25, 8, tzinfo=UTC)


def report(host: str, status: Status, at: datetime) -> Report:
    return Report(
        host=host,
        role="client",
        findings=(Finding("client.au_state", status, "s"),),
        started_at=at,
        finished_at=at + timedelta(seconds=2),
    )


def test_record_history_previous_and_latest(database: Database) -> None:
    runs = RunStore(database)
    first = runs.record(report("XP01", Status.FAIL, T0), {"schema": "x", "n": 1}, "U1")
    runs.record(report("xp01", Status.PASS, T0 + timedelta(hours=1)), None, "cli:me")
    runs.record(report("wsus01", Status.PASS, T0), {"n": 3}, "U2")
    history = runs.history("xp01")
    assert [r.verdict for r in history] == ["pass", "fail"]
    assert history[1].id == first
    assert history[0].finished_at.tzinfo is not None
    # the newest run without facts (host unreachable) does not hide the last real facts
    assert runs.previous_facts("xp01") == {"schema": "x", "n": 1}
    assert runs.previous_facts("nobody") is None
    assert {r.host for r in runs.latest_per_host()} == {"xp01", "wsus01"}
    assert runs.count() == 3
    assert Report.from_json(history[0].report).verdict is Status.PASS


def test_markers_claim_once_until_expiry(database: Database) -> None:
    markers = MarkerStore(database)
    assert markers.claim("k", T0, T0 + timedelta(minutes=10))
    assert not markers.claim("k", T0 + timedelta(minutes=1), T0 + timedelta(minutes=11))
    assert markers.claim("k", T0 + timedelta(minutes=20), T0 + timedelta(minutes=30))


def test_migrate_is_idempotent(database: Database) -> None:
    database.migrate()
    assert database.ping()


def test_redact_url_hides_password() -> None:
    assert redact_url("postgresql://bot:s3cret@db/wsus") == "postgresql://bot:***@db/wsus"
    assert "s3cret" not in redact_url("postgresql+psycopg://u:s3cret@h:5432/d")


def test_concurrent_migrations_do_not_collide(database_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    if database_url.startswith("sqlite"):
        Database(database_url).migrate()
    dbs = [Database(database_url) for _ in range(3)]
    try:
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda db: db.migrate(), dbs))
        assert all(db.ping() for db in dbs)
    finally:
        for db in dbs:
            db.dispose()


def test_latest_per_host_for_chosen_hosts_without_a_limit(database: Database) -> None:
    runs = RunStore(database)
    for n in range(120):
        runs.record(report(f"pc{n:03}", Status.PASS, T0), None, "x")
    runs.record(report("pc000", Status.FAIL, T0 + timedelta(hours=1)), None, "x")
    chosen = [f"PC{n:03}" for n in range(110)]
    latest = runs.latest_per_host(limit=None, hosts=chosen)
    assert len(latest) == 110
    assert {r.host: r.verdict for r in latest}["pc000"] == "fail"
    assert len(runs.latest_per_host()) == 100
