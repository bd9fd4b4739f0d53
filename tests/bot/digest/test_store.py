"""Digest state in the store: slot claims (SQLite, and PostgreSQL when configured), runs,
cursors and the accumulated IIS log failures."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from bot.store.db import Database
from bot.store.digests import DigestStore, LogObservation
from checks.facts import LogCursor

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def test_a_slot_is_claimed_once(database: Database) -> None:
    store = DigestStore(database)
    assert store.claim_slot("morning", "2026-11-25T08:00Z", NOW)
    assert not store.claim_slot("morning", "2026-11-25T08:00Z", NOW + timedelta(seconds=5))
    assert store.claim_slot("evening", "2026-11-25T08:00Z", NOW)
    assert store.claim_slot("morning", "2026-11-26T08:00Z", NOW)
    assert store.slots("morning") == ["2026-11-25T08:00Z", "2026-11-26T08:00Z"]


def test_concurrent_claims_have_one_winner(database: Database) -> None:
    stores = [DigestStore(database) for _ in range(8)]
    start = threading.Barrier(len(stores))
    wins: list[bool] = []
    lock = threading.Lock()

    def claim(store: DigestStore) -> None:
        start.wait(10)
        won = store.claim_slot("morning", "2026-11-25T08:00Z", NOW)
        with lock:
            wins.append(won)

    threads = [threading.Thread(target=claim, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(wins) == [False] * 7 + [True]


def test_runs_keep_the_previous_stalled_set(database: Database) -> None:
    store = DigestStore(database)
    assert store.previous_run("morning") is None
    store.record_run("morning", "a", NOW, {"pc1": ["stale_sync"]}, channel="C1", message_ts="1.0")
    store.record_run(
        "morning",
        "b",
        NOW + timedelta(days=1),
        {"pc2": ["old_agent", "iis_failures"]},
        channel="C1",
        message_ts=None,
    )
    store.record_run("other", "c", NOW + timedelta(days=2), {}, channel=None, message_ts=None)
    previous = store.previous_run("morning")
    assert previous is not None
    assert previous.slot == "b"
    assert previous.stalled == {"pc2": ["iis_failures", "old_agent"]}


def test_cursor_round_trip(database: Database) -> None:
    store = DigestStore(database)
    assert store.cursor("WSUS01") is None
    store.save_cursor("WSUS01", LogCursor(file="u_ex261125.log", offset=1234), NOW)
    store.save_cursor("wsus01", LogCursor(file="u_ex261126.log", offset=10), NOW)
    assert store.cursor("wsus01") == LogCursor(file="u_ex261126.log", offset=10)


def test_log_failures_accumulate_over_reads(database: Database) -> None:
    store = DigestStore(database)
    first = [
        LogObservation("10.0.0.1", "/wutrack.bin", 404, 3, NOW, NOW + timedelta(minutes=3)),
        LogObservation("10.0.0.2", "/iuident.cab", 503, 1, NOW, NOW),
    ]
    store.merge_observations("wsus01", first)
    second = [
        LogObservation(
            "10.0.0.1", "/WUTRACK.bin", 404, 2, NOW + timedelta(hours=1), NOW + timedelta(hours=2)
        ),
        LogObservation(
            "10.0.0.2", "/iuident.cab", None, 1, NOW + timedelta(hours=1), NOW + timedelta(hours=1)
        ),
    ]
    store.merge_observations("wsus01", second)
    rows = {r.client_ip: r for r in store.log_failures("wsus01", NOW - timedelta(days=1))}
    assert rows["10.0.0.1"].count == 5
    assert rows["10.0.0.1"].last_seen == NOW + timedelta(hours=2)
    assert rows["10.0.0.1"].still_failing
    assert not rows["10.0.0.2"].still_failing
    assert store.log_failures("wsus01", NOW + timedelta(minutes=30))[0].client_ip == "10.0.0.1"
    assert store.log_failures("other", NOW - timedelta(days=1)) == []
    assert store.forget_log_failures("wsus01", NOW + timedelta(minutes=30)) == 1
