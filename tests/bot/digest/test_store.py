"""Digest state in the store: slot claims (SQLite, and PostgreSQL when configured), runs,
cursors and the accumulated IIS log failures."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from bot.digest.gather import log_window_start
from bot.store.approvals import ApprovalStore, State
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


def _fix(
    approvals: ApprovalStore, host: str, finished: datetime, result: dict[str, object]
) -> None:
    record = approvals.create(
        host=host,
        fix_id="server.install_selfupdate_port80",
        requested_by="U1",
        now=finished - timedelta(minutes=5),
        expires_at=finished + timedelta(hours=1),
        channel=None,
        thread_ts=None,
        run_id=None,
        context={},
    )
    assert approvals.transition(record.id, State.REQUESTED, State.APPROVED)
    assert approvals.transition(record.id, State.APPROVED, State.RUNNING)
    assert approvals.transition(
        record.id, State.RUNNING, State.SUCCEEDED, finished_at=finished, result=result
    )


def test_last_verified_fix_is_the_newest_fix_whose_recheck_passed(database: Database) -> None:
    store = DigestStore(database)
    approvals = ApprovalStore(database)
    assert store.last_verified_fix("wsus01") is None
    _fix(approvals, "wsus01", NOW - timedelta(hours=5), {"outcome": "fixed"})
    _fix(approvals, "wsus01", NOW - timedelta(hours=2), {"outcome": "still_failing"})
    _fix(approvals, "wsus02", NOW - timedelta(hours=1), {"outcome": "fixed"})
    found = store.last_verified_fix("WSUS01")
    assert found is not None
    assert found.replace(tzinfo=UTC) == NOW - timedelta(hours=5)
    _fix(approvals, "wsus01", NOW - timedelta(hours=1), {"outcome": "unknown", "recheck_ok": True})
    latest = store.last_verified_fix("wsus01")
    assert latest is not None
    assert latest.replace(tzinfo=UTC) == NOW - timedelta(hours=1)


def test_failures_before_a_verified_fix_are_not_current(database: Database) -> None:
    store = DigestStore(database)
    approvals = ApprovalStore(database)
    before = NOW - timedelta(hours=4)
    store.merge_observations(
        "wsus01", [LogObservation("10.0.0.5", "/selfupdate/wuident.cab", 404, 3, before, before)]
    )
    window = NOW - timedelta(hours=72)
    assert [f.client_ip for f in store.log_failures("wsus01", window)] == ["10.0.0.5"]
    _fix(approvals, "wsus01", NOW - timedelta(hours=2), {"outcome": "fixed"})
    since = log_window_start(window, store.last_verified_fix("wsus01"))
    assert store.log_failures("wsus01", since) == []
    after = NOW - timedelta(hours=1)
    store.merge_observations(
        "wsus01", [LogObservation("10.0.0.6", "/selfupdate/wuident.cab", 404, 1, after, after)]
    )
    assert [f.client_ip for f in store.log_failures("wsus01", since)] == ["10.0.0.6"]
