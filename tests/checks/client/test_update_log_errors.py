from checks.client.update_log_errors import evaluate
from checks.model import Status
from tests.checks.factories import assert_problem, assert_unknown, client, ctx

TAIL = "logs.windowsupdate_log.tail"
SUS = {"agent.wuaueng_version": "5.4.3790.2180"}


def line(text: str, day: str = "2026-11-25") -> str:
    return f"{day}\t10:00:00:000\t 988\td14\tAgent\t{text}"


def test_pass_on_a_clean_log() -> None:
    finding = evaluate(client(), ctx())
    assert finding.status is Status.PASS
    assert any("not SUS-era" in text for text in finding.evidence)


def test_warn_on_error_results() -> None:
    facts = client(**{TAIL: [line("  * WARNING: Exit code = 0x8024402C")]})
    finding = evaluate(facts, ctx())
    assert_problem(finding, Status.WARN, None)
    assert any("0x8024402C" in text for text in finding.evidence)


def test_fail_on_self_update_warnings_and_connection_failures() -> None:
    for text in (
        "WARNING: SelfUpdate check failed, err = 0x80244019",
        "WARNING: Self-update: download of wuident.cab failed",
        "WARNING: WinHttp: SendRequestUsingProxy failed for <http://wsus01/x>. error 0x80072efd",
        "Send failed with hr = 80072efd.",
    ):
        assert_problem(evaluate(client(**{TAIL: [line(text)]}), ctx()), Status.FAIL, None)


def test_old_lines_are_ignored() -> None:
    facts = client(**{TAIL: [line("WARNING: SelfUpdate check failed", day="2026-11-01")]})
    finding = evaluate(facts, ctx())
    assert finding.status is Status.PASS
    assert any("1 older matching lines ignored" in text for text in finding.evidence)


def test_at_most_five_lines_are_quoted() -> None:
    facts = client(**{TAIL: [line(f"WARNING: SelfUpdate failed {i}") for i in range(40)]})
    finding = evaluate(facts, ctx())
    assert sum(1 for text in finding.evidence if "SelfUpdate failed" in text) == 5
    assert any("40 self-update/connection failures" in text for text in finding.evidence)


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


def test_skip_when_nothing_applies() -> None:
    facts = client(**{"logs.windowsupdate_log.exists": False})
    finding = evaluate(facts, ctx())
    assert finding.status is Status.SKIP
    assert "ETW" in finding.summary


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
