"""client.update_log_errors against literal facts and the real-format excerpts in
tests/fixtures/windowsupdate/ (sources in its README)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from checks.client.update_log_errors import evaluate, is_etw_stub
from checks.model import Status
from tests.checks.factories import assert_problem, assert_unknown, client, ctx

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "windowsupdate"
TAIL = "logs.windowsupdate_log.tail"
EVENTS = "logs.windowsupdate_events"
SUS = {"agent.wuaueng_version": "5.4.3790.2180"}
OPERATIONAL = "Microsoft-Windows-WindowsUpdateClient/Operational"


def fixture_lines(name: str) -> list[str]:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def fixture_events() -> dict[str, Any]:
    data = json.loads((FIXTURES / "events_win10_search_failures.json").read_text("utf-8"))
    data.pop("_source")
    return data


def line(text: str, day: str = "2026-11-25") -> str:
    return f"{day}\t10:00:00:000\t 988\td14\tAgent\t{text}"


def events(*items: tuple[str, int, str, str]) -> dict[str, Any]:
    return {
        "log": OPERATIONAL,
        "available": True,
        "events": [
            {"time": when, "id": event_id, "level": level, "message": message}
            for when, event_id, level, message in items
        ],
    }


def stub(**changes: Any) -> Any:
    return client(**{TAIL: fixture_lines("win10_stub.log"), **changes})


# -- classic WindowsUpdate.log ---------------------------------------------------------


def test_pass_on_a_clean_log() -> None:
    finding = evaluate(client(), ctx())
    assert finding.status is Status.PASS
    assert any("not SUS-era" in text for text in finding.evidence)
    assert any("not available on this host" in text for text in finding.evidence)


def test_real_self_update_timeout_fails_naming_the_code() -> None:
    # cloudbase/windows-imaging-tools#53: wuident.cab times out, hr = 80072ee2 (no 0x)
    facts = client(**{TAIL: fixture_lines("classic_2008r2_selfupdate_timeout.log")})
    finding = evaluate(facts, ctx(now=datetime(2016, 9, 9, 12, 0, tzinfo=UTC)))
    assert_problem(finding, Status.FAIL, None)
    assert finding.summary.startswith("0x80072EE2 (ERROR_WINHTTP_TIMEOUT")
    assert "3 failures in 72 h (WindowsUpdate.log)" in finding.summary
    assert any("wuident.cab" in text for text in finding.evidence)
    assert finding.next_step
    assert "learn.microsoft.com" in finding.next_step


def test_the_same_log_a_week_later_is_old() -> None:
    facts = client(**{TAIL: fixture_lines("classic_2008r2_selfupdate_timeout.log")})
    finding = evaluate(facts, ctx(now=datetime(2016, 9, 15, 12, 0, tzinfo=UTC)))
    assert finding.status is Status.PASS
    assert any("3 older failing lines ignored" in text for text in finding.evidence)


def test_tz_header_converts_local_times_to_utc() -> None:
    # LegacyUpdate#8: "tz: -0500"; the 0x8024000B warning is at 15:08 local = 20:08 UTC
    facts = client(**{TAIL: fixture_lines("classic_vista_tz_search_cancelled.log")})
    inside = evaluate(facts, ctx(now=datetime(2022, 11, 10, 20, 0, tzinfo=UTC)))
    assert_problem(inside, Status.WARN, None)
    assert "WU_E_CALL_CANCELLED" in inside.summary
    assert any("tz: -0500" in text for text in inside.evidence)
    # 72 h after 20:08 UTC it drops out; read as UTC it would already have (15:08 + 72 h)
    outside = evaluate(facts, ctx(now=datetime(2022, 11, 10, 20, 30, tzinfo=UTC)))
    assert outside.status is Status.PASS


def test_probe_offset_is_used_without_a_tz_line() -> None:
    lines = [line("WARNING: Send failed with hr = 80072ee2.", day="2026-11-22")]
    # 10:00 local at UTC+5 is 05:00 UTC, older than 72 h before 2026-11-25 08:00 UTC
    east = client(**{TAIL: lines, "logs.windowsupdate_log.utc_offset_minutes": 300})
    assert evaluate(east, ctx(now=datetime(2026, 11, 25, 8, 0, tzinfo=UTC))).status is Status.PASS
    west = client(**{TAIL: lines, "logs.windowsupdate_log.utc_offset_minutes": -300})
    finding = evaluate(west, ctx(now=datetime(2026, 11, 25, 8, 0, tzinfo=UTC)))
    assert finding.status is Status.FAIL
    assert any("-300 min" in text for text in finding.evidence)


def test_unknown_offset_is_stated() -> None:
    finding = evaluate(client(**{TAIL: [line("WARNING: Send failed with hr = 80072ee2.")]}), ctx())
    assert any("no UTC offset is known" in text for text in finding.evidence)


def test_benign_results_are_not_failures() -> None:
    # PoshPAIG#18: Exit code = 0x80240024 (WU_E_NO_UPDATE); Get-WindowsUpdateLog
    # "hr = 8024000C" (WU_E_NOOP)
    now = datetime(2018, 6, 14, 12, 0, tzinfo=UTC)
    facts = client(**{TAIL: fixture_lines("classic_win7_install_no_update.log")})
    assert evaluate(facts, ctx(now=now)).status is Status.PASS
    decoded = client(**{TAIL: fixture_lines("decoded_get_windowsupdatelog.log")})
    assert evaluate(decoded, ctx(now=datetime(2019, 6, 6, tzinfo=UTC))).status is Status.PASS


def test_decoded_log_lines_are_dated_and_read() -> None:
    lines = [
        "2019/06/05 11:07:40.9876520 21136 16428   ProtocolTalker  *FAILED* [80244019] SyncUpdates",
        "2018.10.21 12:08:50.0121931 1276 3628 Misc FATAL: something broke",
    ]
    finding = evaluate(client(**{TAIL: lines}), ctx(now=datetime(2019, 6, 6, tzinfo=UTC)))
    assert finding.status is Status.FAIL
    assert "0x80244019 (WU_E_PT_HTTP_STATUS_NOT_FOUND" in finding.summary
    assert any("1 older failing lines ignored" in text for text in finding.evidence)


def test_warn_on_non_blocking_and_unknown_codes() -> None:
    finding = evaluate(client(**{TAIL: [line("  * WARNING: Exit code = 0x8024ABCD")]}), ctx())
    assert_problem(finding, Status.WARN, None)
    assert "0x8024ABCD (not in wsusbot's table" in finding.summary


def test_fail_on_self_update_warnings_and_connection_failures() -> None:
    for text in (
        "WARNING: SelfUpdate check failed, err = 0x80244019",
        "WARNING: Self-update: download of wuident.cab failed",
        "WARNING: WinHttp: SendRequestUsingProxy failed for <http://wsus01/x>. error 0x80072efd",
        "Send failed with hr = 80072efd.",
        "FATAL: Failed to initialize",
        "  * WARNING: Exit code = 0x8024402C",
    ):
        assert_problem(evaluate(client(**{TAIL: [line(text)]}), ctx()), Status.FAIL, None)


def test_decisive_code_is_the_most_frequent() -> None:
    lines = [line("Send failed with hr = 80072ee2.")] + [
        line("WARNING: SyncUpdates failure, error = 0x80244019") for _ in range(3)
    ]
    finding = evaluate(client(**{TAIL: lines}), ctx())
    assert finding.summary.startswith("0x80244019")
    assert "3 failures" in finding.summary
    assert "4 failures in all" in finding.summary
    assert any("0x80072EE2 (ERROR_WINHTTP_TIMEOUT" in text for text in finding.evidence)


def test_at_most_five_lines_are_quoted() -> None:
    facts = client(**{TAIL: [line(f"WARNING: SelfUpdate failed {i}") for i in range(40)]})
    finding = evaluate(facts, ctx())
    assert sum(1 for text in finding.evidence if "SelfUpdate failed" in text) == 5
    assert any("40 failures within the window" in text for text in finding.evidence)


# -- Windows 10+: the ETW notice and the operational event log -----------------------


def test_the_windows_10_notice_is_recognised() -> None:
    assert is_etw_stub(fixture_lines("win10_stub.log"))
    assert is_etw_stub(["\x00".join("Please run the Get-WindowsUpdateLog PowerShell command")])
    assert not is_etw_stub(fixture_lines("decoded_get_windowsupdatelog.log"))
    assert not is_etw_stub(fixture_lines("classic_vista_tz_search_cancelled.log"))


def test_never_pass_on_the_notice_without_events() -> None:
    for change in (
        {EVENTS: None},
        {EVENTS: {"log": OPERATIONAL, "available": False, "events": None}},
        {EVENTS: {"log": OPERATIONAL, "available": None, "events": None}},
    ):
        finding = evaluate(stub(**change), ctx())
        assert finding.status is Status.UNKNOWN, change
        assert "Nothing readable" in finding.summary
        assert "Get-WindowsUpdateLog" in finding.summary


def test_events_judge_a_modern_client() -> None:
    finding = evaluate(stub(**{EVENTS: fixture_events()}), ctx())
    assert_problem(finding, Status.FAIL, None)
    assert finding.summary.startswith("0x80244019 (WU_E_PT_HTTP_STATUS_NOT_FOUND: the server")
    assert "3 failures in 72 h" in finding.summary
    assert OPERATIONAL in finding.summary
    assert any("0x8024402C (WU_E_PT_WINHTTP_NAME_NOT_RESOLVED" in t for t in finding.evidence)
    assert any("event 31" in text for text in finding.evidence)
    assert any("only the Windows 10+ notice" in text for text in finding.evidence)
    assert "Selfupdate" in (finding.next_step or "")


def test_clean_events_pass() -> None:
    healthy = events(("2026-11-25T09:00:00Z", 26, "Information", "Windows Update successfully "
                      "found 0 updates."))  # fmt: skip
    finding = evaluate(stub(**{EVENTS: healthy}), ctx())
    assert finding.status is Status.PASS
    assert any("1 events read; 0 failures" in text for text in finding.evidence)
    empty = evaluate(stub(**{EVENTS: events()}), ctx())
    assert empty.status is Status.PASS


def test_a_later_successful_search_downgrades_to_warn() -> None:
    recovered = events(
        ("2026-11-25T01:00:00Z", 25, "Error", "Windows Update failed to check for updates "
         "with error 0x8024402C."),
        ("2026-11-25T09:00:00Z", 26, "Information", "Windows Update successfully found 2 "
         "updates."),
    )  # fmt: skip
    finding = evaluate(stub(**{EVENTS: recovered}), ctx())
    assert_problem(finding, Status.WARN, None)
    assert "recovered" in finding.summary


def test_install_failures_warn_and_old_events_are_ignored() -> None:
    install = events(
        ("2026-11-25T01:00:00Z", 20, "Error", "Installation Failure: Windows failed to "
         "install the following update with error 0x80240022: KB5000001."),
        ("2026-11-01T01:00:00Z", 25, "Error", "Windows Update failed to check for updates "
         "with error 0x8024402C."),
    )  # fmt: skip
    finding = evaluate(stub(**{EVENTS: install}), ctx())
    assert_problem(finding, Status.WARN, None)
    assert "WU_E_ALL_UPDATES_FAILED" in finding.summary
    assert any("1 older failures ignored" in text for text in finding.evidence)


def test_events_without_a_message_resource_still_name_the_code() -> None:
    raw = events(("2026-11-25T10:00:00Z", 25, "Error", "event 25 (no message text): 0x80244022"))
    finding = evaluate(stub(**{EVENTS: raw}), ctx())
    assert finding.status is Status.FAIL
    assert "WU_E_PT_HTTP_STATUS_SERVICE_UNAVAIL" in finding.summary


def test_windows_7_reads_both_sources() -> None:
    facts = client(
        **{
            TAIL: [line("WARNING: Send failed with hr = 80072ee2.")],
            EVENTS: events(("2026-11-25T10:00:00Z", 25, "Error", "Windows Update failed to "
                            "check for updates with error 0x80072EE2.")),
        }
    )  # fmt: skip
    finding = evaluate(facts, ctx())
    assert finding.status is Status.FAIL
    assert f"(WindowsUpdate.log and {OPERATIONAL})" in finding.summary
    assert "2 failures in 72 h" in finding.summary


def test_absent_log_is_judged_from_events_or_unknown() -> None:
    absent = {"logs.windowsupdate_log.exists": False, "logs.windowsupdate_log.tail": None}
    finding = evaluate(client(**absent, **{EVENTS: events()}), ctx())
    assert finding.status is Status.PASS
    unknown = evaluate(client(**absent), ctx())
    assert unknown.status is Status.UNKNOWN
    assert "absent" in unknown.summary


# -- urllog.dat and unreadable facts -------------------------------------------------


def test_fail_on_a_cached_pingback_for_sus_era_agents() -> None:
    facts = client(
        **SUS, **{"logs.urllog_dat.exists": True, "logs.urllog_dat.pingback_cached": True}
    )
    finding = evaluate(facts, ctx())
    assert_problem(finding, Status.FAIL, None)
    assert "urllog.dat" in finding.summary
    assert "WindowsUpdate.log" not in finding.summary
    assert any("cached pingback" in text for text in finding.evidence)


def test_pingback_is_ignored_for_current_agents() -> None:
    facts = client(**{"logs.urllog_dat.exists": True, "logs.urllog_dat.pingback_cached": True})
    assert evaluate(facts, ctx()).status is Status.PASS


def test_unknown_when_logs_were_not_read() -> None:
    assert_unknown(evaluate(client(logs=None), ctx()), "logs")
    assert_unknown(evaluate(client(**{TAIL: None}), ctx()), "tail was not read")
    facts = client(
        **SUS, **{"logs.urllog_dat.exists": True, "logs.urllog_dat.pingback_cached": None}
    )
    assert_unknown(evaluate(facts, ctx()), "urllog.dat")


def test_a_cached_pingback_fails_even_when_the_file_state_is_unknown() -> None:
    facts = client(
        **SUS, **{"logs.urllog_dat.exists": None, "logs.urllog_dat.pingback_cached": True}
    )
    assert evaluate(facts, ctx()).status is Status.FAIL
