import pytest

from checks.client.detection_stalled import evaluate
from checks.model import Status
from tests.checks.factories import assert_problem, assert_unknown, client, ctx

FIX = "client.reset_au_state"

# Registry times in the form Automatic Updates writes them, e.g. DetectionStartTime =
# "2003.09.10 12:38:10", LastWaitTimeout= "2003.09.10 11:43:10" (GMT) in the sample at
# http://smallvoid.com/article/winnt-automatic-updates-config.html


def lwt(value: str | None) -> dict[str, str | None]:
    return {"au.LastWaitTimeout": value}


def test_pass_when_detection_is_recent() -> None:
    finding = evaluate(client(), ctx())
    assert finding.status is Status.PASS
    assert any("1.0 h from now" in line for line in finding.evidence)
    assert any("host local time" in line for line in finding.evidence)


def test_fail_when_lwt_jumped_a_day_since_the_previous_check() -> None:
    previous = client(**lwt("2026.11.24 12:00:00"))
    finding = evaluate(client(**lwt("2026.11.25 12:00:00")), ctx(previous=previous))
    assert_problem(finding, Status.FAIL, FIX)
    assert any("moved 24.0 h" in line for line in finding.evidence)


def test_pass_when_lwt_moved_less_than_the_jump() -> None:
    previous = client(**lwt("2026.11.24 12:00:01"))
    finding = evaluate(client(**lwt("2026.11.25 12:00:00")), ctx(previous=previous))
    assert finding.status is Status.PASS


def test_history_replaces_the_ahead_rule() -> None:
    # far ahead of now, but it did not move since last time: the seed rule says fine
    previous = client(**lwt("2026.11.27 00:00:00"))
    finding = evaluate(client(**lwt("2026.11.27 00:00:00")), ctx(previous=previous))
    assert finding.status is Status.PASS


def test_warn_when_lwt_far_ahead_without_history() -> None:
    finding = evaluate(client(**lwt("2026.11.26 08:00:00")), ctx())
    assert_problem(finding, Status.WARN, FIX)
    assert any("no previous check" in line for line in finding.evidence)


def test_unreadable_previous_lwt_falls_back_to_the_ahead_rule() -> None:
    previous = client(**lwt("garbage"))
    finding = evaluate(client(**lwt("2026.11.26 08:00:00")), ctx(previous=previous))
    assert finding.status is Status.WARN
    assert any("previous LastWaitTimeout unreadable" in line for line in finding.evidence)


@pytest.mark.parametrize(
    ("searched", "status"),
    [
        ("2026-11-22T11:00:00Z", Status.WARN),
        ("2026-11-18T11:00:00+00:00", Status.FAIL),
        ("2026-11-25T11:00:00", Status.PASS),
    ],
)
def test_last_search_age(searched: str, status: Status) -> None:
    finding = evaluate(client(**{"au.last_search_success": searched}), ctx())
    assert finding.status is status


def test_worst_rule_wins_and_each_is_listed() -> None:
    facts = client(**lwt("2026.11.26 08:00:00"), **{"au.last_search_success": "2026-01-01T00:00Z"})
    finding = evaluate(facts, ctx())
    assert finding.status is Status.FAIL
    assert any("LastWaitTimeout" in line for line in finding.evidence)
    assert any("last successful search" in line for line in finding.evidence)


@pytest.mark.parametrize("bad", ["2026.13.01 00:00:00", "2026.11.25 25:00:00", "yesterday", ""])
def test_unknown_on_a_malformed_lwt(bad: str) -> None:
    assert_unknown(evaluate(client(**lwt(bad)), ctx()), "LastWaitTimeout unreadable")


def test_unknown_on_a_malformed_search_time() -> None:
    facts = client(**{"au.last_search_success": "last tuesday"})
    assert_unknown(evaluate(facts, ctx()), "last tuesday")


def test_malformed_detection_start_time_is_only_noted() -> None:
    finding = evaluate(client(**{"au.DetectionStartTime": "2026.02.30 00:00:00"}), ctx())
    assert finding.status is Status.PASS
    assert any("DetectionStartTime unreadable" in line for line in finding.evidence)


def test_lwt_absent_after_a_reset_uses_the_search_time() -> None:
    finding = evaluate(client(**lwt(None)), ctx())
    assert finding.status is Status.PASS
    assert any("normal right after a reset" in line for line in finding.evidence)


def test_the_dotted_form_microsoft_documents_is_compared_too() -> None:
    # Cc708554 §10 writes the form as YYYY.MM.DD HH.MM.SS; a history in one form and a
    # value in the other still compare
    previous = client(**lwt("2026.11.24 12.00.00"))
    finding = evaluate(client(**lwt("2026.11.25 12:00:00")), ctx(previous=previous))
    assert_problem(finding, Status.FAIL, FIX)
    assert any("previous check 2026.11.24 12:00:00 UTC" in line for line in finding.evidence)


def test_the_published_sample_is_read() -> None:
    facts = client(
        **lwt("2003.09.10 11:43:10"),
        **{"au.DetectionStartTime": "2003.09.10 12:38:10", "au.last_search_success": None},
    )
    finding = evaluate(facts, ctx())
    assert finding.status is Status.PASS
    assert any("DetectionStartTime 2003.09.10 12:38:10" in line for line in finding.evidence)


def test_unknown_when_nothing_to_judge() -> None:
    facts = client(**lwt(None), **{"au.last_search_success": None})
    assert_unknown(evaluate(facts, ctx()), "LastWaitTimeout")
    assert_unknown(evaluate(client(au=None), ctx()), "au")
