"""Cause detection, name canonicalisation, log observations and the trend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.digest.causes import Cause, Digest, Sighting
from bot.digest.detect import (
    followup_sightings,
    history_sightings,
    inventory_sightings,
    log_sightings,
)
from bot.digest.gather import _Names, log_window_start, observations
from bot.digest.trend import compare
from bot.store.approvals import FollowupResult
from bot.store.digests import LogFailureState
from checks.facts import IisLog, WsusComputer
from checks.followup import FollowupOutcome
from checks.model import Finding, Status, Thresholds
from checks.report import Report
from handlers.target import HostTarget

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
LIMITS = Thresholds()


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def computer(name: str, synced: datetime | None, version: str = "7.6.7600.256") -> WsusComputer:
    return WsusComputer(
        name=name, ip=None, client_version=version, last_sync_time=iso(synced) if synced else None
    )


def plain(name: str | None, ip: str | None) -> str:
    return (name or ip or "").lower()


def test_inventory_stale_never_and_old_agent() -> None:
    computers = [
        computer("fresh", NOW - timedelta(days=2)),
        computer("warn", NOW - timedelta(days=8)),
        computer("fail", NOW - timedelta(days=45)),
        computer("never", None),
        computer("edge", NOW - timedelta(days=7)),
        computer("garbled", None, version="not.a.version"),
        computer("old", NOW - timedelta(hours=3), version="5.8.0.2469"),
        WsusComputer(name="badtime", last_sync_time="yesterday", client_version="7.6.7600.256"),
    ]
    found = inventory_sightings(
        computers, server="wsus01", now=NOW, thresholds=LIMITS, canonical=plain
    )
    stale = {s.host: s.detail for s in found if s.cause is Cause.STALE_SYNC}
    old = {s.host for s in found if s.cause is Cause.OLD_AGENT}
    assert set(stale) == {"warn", "fail", "never", "garbled"}
    assert stale["never"] == "never synced"
    assert stale["fail"] == "last sync 45 d ago"
    assert old == {"old"}
    assert all(s.server == "wsus01" for s in found)


def test_thresholds_are_the_digests() -> None:
    strict = Thresholds(stale_warn_days=1, min_client_version="7.6.7601.1")
    found = inventory_sightings(
        [computer("a", NOW - timedelta(days=2))],
        server="s",
        now=NOW,
        thresholds=strict,
        canonical=plain,
    )
    assert {s.cause for s in found} == {Cause.STALE_SYNC, Cause.OLD_AGENT}


def failure(
    ip: str, status: int, last: datetime, success: datetime | None = None
) -> LogFailureState:
    return LogFailureState(
        "wsus01", ip, "/wutrack.bin", status, 4, last - timedelta(hours=1), last, success
    )


def test_log_sightings_drop_clients_that_succeeded_since() -> None:
    rows = [
        failure("10.0.0.1", 404, NOW),
        failure("10.0.0.1", 500, NOW - timedelta(minutes=5)),
        failure("10.0.0.2", 404, NOW - timedelta(hours=1), success=NOW),
        failure("10.0.0.3", 503, NOW, success=NOW - timedelta(hours=2)),
    ]
    found = {s.host: s for s in log_sightings(rows, canonical=plain)}
    assert set(found) == {"10.0.0.1", "10.0.0.3"}
    assert "404 ×4 /wutrack.bin" in found["10.0.0.1"].detail
    assert "500 ×4" in found["10.0.0.1"].detail
    assert found["10.0.0.1"].weight == 8


def report(host: str, status: Status) -> Report:
    finding = Finding(check="client.detection_stalled", status=status, summary="stalled 10 days")
    return Report(host=host, role="client", findings=(finding,), finished_at=NOW)


def test_history_only_failing_detection_counts() -> None:
    found = history_sightings(
        [("FLEET01", report("fleet01", Status.FAIL)), ("fleet02", report("fleet02", Status.WARN))]
    )
    assert [(s.host, s.cause) for s in found] == [("fleet01", Cause.DETECTION_STALLED)]


def followup(
    host: str, minutes: int, outcome: FollowupOutcome, fix: str = "client.reset_au_state"
) -> FollowupResult:
    return FollowupResult(
        host=host,
        fix_id=fix,
        finished_at=NOW + timedelta(minutes=minutes),
        outcome=outcome,
        detail="LastWaitTimeout moved",
    )


def test_followups_newest_outcome_wins() -> None:
    results = [
        followup("a", 0, FollowupOutcome.NOT_RECOVERED),
        followup("b", 0, FollowupOutcome.NOT_RECOVERED),
        followup("b", 10, FollowupOutcome.RECOVERED),
        followup("c", 10, FollowupOutcome.NOT_RECOVERED, fix="client.restart_wuauserv"),
        followup("d", 10, FollowupOutcome.UNKNOWN),
    ]
    (only,) = followup_sightings(results)
    assert only.host == "a"
    assert "LastWaitTimeout moved" in only.detail


def target(name: str, address: str) -> HostTarget:
    return HostTarget(
        name=name,
        role="client",
        address=address,
        winrm_url="http://x",
        transport="ntlm",
        username=None,
        password_file=None,
        verify_tls=True,
        ca_bundle=None,
    )


def test_names_prefer_the_inventory_client() -> None:
    names = _Names([target("Fleet01", "127.0.0.31")])
    names.learn([WsusComputer(name="PC00001.fleet.lab.local", ip="10.20.0.1")])
    assert names("fleet01.lab.local", "127.0.0.99") == "fleet01"
    assert names(None, "127.0.0.31") == "fleet01"
    assert names(None, "10.20.0.1") == "pc00001.fleet.lab.local"
    assert names(None, "10.9.9.9") == "10.9.9.9"


FIELDS = "#Fields: date time c-ip cs-method cs-uri-stem sc-status sc-substatus"


def test_observations_apply_the_handshake_rule_and_keep_successes() -> None:
    lines = [
        FIELDS,
        "2026-11-25 07:00:00 10.0.0.1 GET /wutrack.bin 404 0",
        "2026-11-25 07:00:01 10.0.0.2 GET /ClientWebService/client.asmx 401 2",
        "2026-11-25 07:00:02 10.0.0.2 GET /ClientWebService/client.asmx 200 0",
        "2026-11-25 07:00:03 10.0.0.3 GET /index.html 404 0",
        "garbage \x00\x01",
    ]
    seen = observations(IisLog.model_validate({"schema": "wsusbot.iis_log/1", "lines": lines}))
    failing = {(o.client_ip, o.path, o.status) for o in seen if o.status is not None}
    ok = {(o.client_ip, o.path) for o in seen if o.status is None}
    assert failing == {("10.0.0.1", "/wutrack.bin", 404)}
    assert ok == {("10.0.0.2", "/ClientWebService/client.asmx")}


def test_digest_union_and_top_hosts() -> None:
    digest = Digest("d", NOW, checkable=frozenset({"fleet01"}))
    digest.add(
        [
            Sighting("pc1", Cause.STALE_SYNC, "x"),
            Sighting("pc1", Cause.OLD_AGENT, "x"),
            Sighting("pc1", Cause.STALE_SYNC, "duplicate"),
            Sighting("fleet01", Cause.DETECTION_STALLED, "x"),
            Sighting("pc2", Cause.STALE_SYNC, "x"),
        ]
    )
    assert digest.stalled == {
        "pc1": {Cause.STALE_SYNC, Cause.OLD_AGENT},
        "fleet01": {Cause.DETECTION_STALLED},
        "pc2": {Cause.STALE_SYNC},
    }
    assert len(digest.hosts(Cause.STALE_SYNC)) == 2
    assert digest.top_hosts(2) == ["fleet01", "pc1"]


def test_trend() -> None:
    first = compare({"a", "b"}, None)
    assert not first.has_previous
    assert first.line() == "first digest: no trend yet"
    second = compare({"b", "c"}, {"a": ["stale_sync"], "b": ["old_agent"]})
    assert (second.new, second.still, second.resolved) == (("c",), ("b",), ("a",))
    assert second.line() == "1 new · 1 still · 1 resolved"


def test_observations_leave_out_the_bots_own_requests() -> None:
    lines = [
        "#Fields: date time c-ip cs-method cs-uri-stem cs(User-Agent) sc-status sc-substatus",
        "2026-11-25 07:00:00 10.0.0.1 GET /wutrack.bin Windows-Update-Agent 404 0",
        "2026-11-25 07:00:01 10.0.0.250 GET /selfupdate/wuident.cab - 404 0",
        "2026-11-25 07:00:02 10.0.0.9 GET /iuident.cab wsusbot-probe/1 404 0",
        "2026-11-25 07:00:03 10.0.0.250 GET /iuident.cab - 200 0",
    ]
    doc = IisLog.model_validate({"schema": "wsusbot.iis_log/1", "lines": lines})
    seen = observations(doc, ignored_client_ips=["10.0.0.250"])
    assert [(o.client_ip, o.status) for o in seen] == [("10.0.0.1", 404)]


def test_log_window_starts_at_the_later_of_window_and_verified_fix() -> None:
    window = NOW - timedelta(hours=72)
    assert log_window_start(window, None) == window
    assert log_window_start(window, NOW - timedelta(days=5)) == window
    fixed = (NOW - timedelta(hours=2)).replace(tzinfo=None)  # SQLite hands back naive UTC
    assert log_window_start(window, fixed) == NOW - timedelta(hours=2)
