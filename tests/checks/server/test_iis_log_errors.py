"""server.iis_log_errors on literal facts: pass, warn, fail, unknown, window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from checks.facts import ServerFacts
from checks.model import CheckContext, LogScope, Status, Thresholds
from checks.server import iis_log_errors
from checks.server.iis_log_errors import AUTH_FAIL_CLIENTS, AUTH_FAIL_REQUESTS, CHECK, evaluate

FIELDS = (
    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
    "cs(User-Agent) sc-status sc-substatus sc-win32-status time-taken"
)
NOW = datetime(2024, 1, 5, 12, 0, 0, tzinfo=UTC)
CTX = CheckContext(now=NOW)


def line(
    client: str, stem: str, status: int, substatus: int = 0, *, ago: timedelta = timedelta(hours=1)
) -> str:
    moment = NOW - ago
    return (
        f"{moment:%Y-%m-%d %H:%M:%S} 192.168.0.10 GET {stem} - 80 - {client} "
        f"Windows-Update-Agent {status} {substatus} 0 15"
    )


def facts(iis_log: dict[str, Any] | None, **extra: Any) -> ServerFacts:
    document: dict[str, Any] = {"schema": "wsusbot.server_facts/1", "host": "wsus01", **extra}
    if iis_log is not None:
        document["iis_log"] = {"schema": "wsusbot.iis_log/1", **iis_log}
    return ServerFacts.model_validate(document)


def log(lines: list[str], **extra: Any) -> ServerFacts:
    return facts(
        {
            "log_dir": "C:\\inetpub\\logs\\LogFiles\\W3SVC1",
            "files": [{"name": "u_ex240105.log", "size": 123456}],
            "lines": [FIELDS, *lines],
            "cursor": {"file": "u_ex240105.log", "offset": 123456},
            **extra,
        }
    )


def test_metadata() -> None:
    assert CHECK.id == "server.iis_log_errors"
    assert iis_log_errors.__name__.endswith("server.iis_log_errors")
    assert CHECK.meta.role == "server"
    assert CHECK.meta.seed == ("§5",)
    assert CHECK.meta.fix is None


def test_pass_when_self_update_traffic_succeeds() -> None:
    finding = evaluate(
        log(
            [
                line("10.0.0.5", "/selfupdate/wuident.cab", 200),
                line("10.0.0.6", "/ClientWebService/client.asmx", 401, 2),
                line("10.0.0.6", "/ClientWebService/client.asmx", 200),
            ]
        ),
        CTX,
    )
    assert finding.status is Status.PASS
    assert finding.summary.startswith("3 self-update request(s) in the last 72 h")
    assert any("handshake" in item for item in finding.evidence)
    assert finding.fix is None


def test_pass_when_no_self_update_requests_at_all() -> None:
    finding = evaluate(log([]), CTX)
    assert finding.status is Status.PASS
    assert finding.summary.startswith("0 self-update request(s)")


def test_warn_for_a_few_401_from_one_client() -> None:
    finding = evaluate(
        log(
            [
                line("10.0.0.6", "/wutrack.bin", 401, 1, ago=timedelta(hours=2)),
                line("10.0.0.6", "/wutrack.bin", 401, 1, ago=timedelta(hours=1)),
            ]
        ),
        CTX,
    )
    assert finding.status is Status.WARN
    assert "2 failing self-update request(s) from 1 client(s)" in finding.summary
    assert finding.fix is None
    assert finding.next_step is not None
    assert "anonymous" in finding.next_step
    evidence = "\n".join(finding.evidence)
    assert "401: 2 request(s) from 1 client(s) - HTTP 401.1" in evidence
    assert "client 10.0.0.6: 2 failing (401 x2) on /wutrack.bin" in evidence
    assert "first 2024-01-05T10:00:00Z, last 2024-01-05T11:00:00Z" in evidence


def test_fail_for_404_with_evidence_and_next_step() -> None:
    finding = evaluate(
        log(
            [
                line("10.0.0.5", "/selfupdate/AU/x86/XP/EN/wuaucomp.cab", 404),
                line("10.0.0.5", "/iuident.cab", 404),
                line("10.0.0.7", "/wutrack.bin", 500, 24),
                line("10.0.0.8", "/default.htm", 404),
            ]
        ),
        CTX,
    )
    assert finding.status is Status.FAIL
    assert finding.summary.startswith("3 failing self-update request(s) from 2 client(s)")
    assert "404 x2, 500 x1" in finding.summary
    evidence = "\n".join(finding.evidence)
    assert "404: 2 request(s) from 1 client(s) - HTTP 404.0: not found" in evidence
    assert "impersonation" in evidence
    assert "client 10.0.0.5: 2 failing (404 x2)" in evidence
    assert "client 10.0.0.8" not in evidence
    assert finding.next_step is not None
    assert finding.next_step.index("500:") < finding.next_step.index("404:")
    assert "InstallSelfupdateOnPort80.vbs" in finding.next_step
    assert finding.fix is None


def test_fail_for_503() -> None:
    finding = evaluate(log([line("10.0.0.5", "/selfupdate/wuident.cab", 503)]), CTX)
    assert finding.status is Status.FAIL
    assert finding.next_step is not None
    assert "WsusPool" in finding.next_step


def test_fail_for_many_401_from_one_client() -> None:
    lines = [
        line("10.0.0.6", "/wutrack.bin", 403, ago=timedelta(minutes=5 * i))
        for i in range(AUTH_FAIL_REQUESTS)
    ]
    assert evaluate(log(lines[:-1]), CTX).status is Status.WARN
    assert evaluate(log(lines), CTX).status is Status.FAIL


def test_fail_for_401_from_several_clients() -> None:
    lines = [line(f"10.0.0.{i}", "/wutrack.bin", 401) for i in range(AUTH_FAIL_CLIENTS)]
    assert evaluate(log(lines[:-1]), CTX).status is Status.WARN
    assert evaluate(log(lines), CTX).status is Status.FAIL


def test_top_clients_are_limited() -> None:
    lines = [line(f"10.0.1.{i}", "/wutrack.bin", 404) for i in range(8)]
    finding = evaluate(log(lines), CTX)
    clients = [item for item in finding.evidence if item.startswith("client ")]
    assert len(clients) == iis_log_errors.TOP_CLIENTS
    assert "... and 3 more client(s)" in finding.evidence


def test_window_ignores_older_requests() -> None:
    lines = [
        line("10.0.0.5", "/wutrack.bin", 404, ago=timedelta(hours=73)),
        line("10.0.0.5", "/wutrack.bin", 200, ago=timedelta(hours=1)),
    ]
    finding = evaluate(log(lines), CTX)
    assert finding.status is Status.PASS
    assert "1 older request(s) outside the 72 h window ignored" in finding.evidence
    wide = CheckContext(now=NOW, thresholds=Thresholds(log_error_window_hours=96))
    assert evaluate(log(lines), wide).status is Status.FAIL


def test_naive_now_is_taken_as_utc() -> None:
    lines = [line("10.0.0.5", "/wutrack.bin", 404, ago=timedelta(hours=1))]
    naive = CheckContext(now=NOW.replace(tzinfo=None))
    assert evaluate(log(lines), naive).status is Status.FAIL


def test_unparsable_lines_are_reported_in_evidence() -> None:
    finding = evaluate(log([line("10.0.0.5", "/wutrack.bin", 200), "broken line"]), CTX)
    assert finding.status is Status.PASS
    assert "1 log line(s) could not be parsed (field_count 1)" in finding.evidence


def test_unknown_when_document_missing() -> None:
    finding = evaluate(facts(None), CTX)
    assert finding.status is Status.UNKNOWN
    assert finding.evidence == ("iis_log: absent from the server facts document",)
    related = facts(None, errors=[{"source": "iis_log", "message": "access denied"}])
    assert evaluate(related, CTX).evidence == ("iis_log: access denied",)


def test_unknown_when_document_has_only_errors() -> None:
    errors = [{"source": "iis_log.read", "message": "log_dir not found"}]
    empty: list[str] = []
    for lines in (None, empty):
        finding = evaluate(facts({"lines": lines, "errors": errors}), CTX)
        assert finding.status is Status.UNKNOWN
        assert finding.evidence == ("iis_log.read: log_dir not found",)


def test_unknown_when_no_log_files() -> None:
    finding = evaluate(facts({"log_dir": "D:\\logs", "files": [], "lines": []}), CTX)
    assert finding.status is Status.UNKNOWN
    assert "D:\\logs" in finding.summary


def test_unknown_when_nothing_parses() -> None:
    finding = evaluate(facts({"lines": ["garbage", "\x00\x01 more"]}), CTX)
    assert finding.status is Status.UNKNOWN
    assert any("could not be parsed" in item for item in finding.evidence)


def test_errors_are_shown_next_to_results() -> None:
    finding = evaluate(
        log(
            [line("10.0.0.5", "/wutrack.bin", 404)],
            errors=[{"source": "iis_log", "message": "u_ex240104.log: locked"}],
        ),
        CTX,
    )
    assert finding.status is Status.FAIL
    assert "iis_log: u_ex240104.log: locked" in finding.evidence


# ---------------------------------------------------------------- what is current


def test_the_bots_own_probe_requests_are_left_out() -> None:
    bot = (
        f"{NOW - timedelta(hours=1):%Y-%m-%d %H:%M:%S} 192.168.0.10 GET "
        "/selfupdate/wuident.cab - 80 - 192.168.0.99 wsusbot-probe/1 404 0 2 1"
    )
    lines = [
        bot,
        line("192.168.0.250", "/iuident.cab", 404),
        line("fe80::e3a4:2b81:92b4:c6e7%11", "/iuident.cab", 404),
    ]
    assert evaluate(log(lines), CTX).status is Status.FAIL
    scope = LogScope(ignored_client_ips=frozenset({"192.168.0.250", "fe80::e3a4:2b81:92b4:c6e7"}))
    finding = evaluate(log(lines), CheckContext(now=NOW, log_scope=scope))
    assert finding.status is Status.PASS
    assert "3 request(s) from the bot's own probes left out" in finding.evidence


def test_failures_before_a_verified_fix_are_history() -> None:
    lines = [
        line("10.0.0.5", "/selfupdate/wuident.cab", 404, ago=timedelta(hours=5)),
        line("10.0.0.6", "/selfupdate/wuident.cab", 404, ago=timedelta(hours=3)),
        line("10.0.0.5", "/selfupdate/wuident.cab", 200, ago=timedelta(hours=1)),
    ]
    assert evaluate(log(lines), CTX).status is Status.FAIL
    fixed = LogScope(resolved_at=NOW - timedelta(hours=2))
    finding = evaluate(log(lines), CheckContext(now=NOW, log_scope=fixed))
    assert finding.status is Status.PASS
    assert finding.summary.startswith("1 self-update request(s) since the verified fix")
    assert (
        "2 request(s) before the fix verified at 2024-01-05T10:00:00Z treated as history"
        in finding.evidence
    )
    # a failure after the verified fix is current again
    again = [*lines, line("10.0.0.7", "/selfupdate/wuident.cab", 404, ago=timedelta(minutes=30))]
    assert evaluate(log(again), CheckContext(now=NOW, log_scope=fixed)).status is Status.FAIL
    # a fix verified before the window changes nothing
    old = LogScope(resolved_at=NOW - timedelta(days=10))
    assert evaluate(log(lines), CheckContext(now=NOW, log_scope=old)).status is Status.FAIL


def test_substatus_breakdown_in_evidence() -> None:
    finding = evaluate(
        log(
            [
                line("10.0.0.5", "/selfupdate/wuident.cab", 404, 0),
                line("10.0.0.5", "/selfupdate/wuident.cab", 404, 0),
                line("10.0.0.6", "/selfupdate/wuident.cab", 404, 3),
            ]
        ),
        CTX,
    )
    evidence = "\n".join(finding.evidence)
    assert "404: 3 request(s) from 2 client(s) (404.0 x2, 404.3 x1) - HTTP 404.0" in evidence


def test_metadata_documents_the_window() -> None:
    assert "log_error_window_hours" in CHECK.meta.description
