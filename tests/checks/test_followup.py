"""checks.followup.followup_verdict: did the client recover after the AU state reset?

LastWaitTimeout values are registry strings in the form ``checks/regtime.py`` parses
(``YYYY.MM.DD HH.MM.SS``, UTC)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from checks.client.detection_stalled import evaluate as detection_stalled
from checks.facts import ClientFacts
from checks.followup import (
    LWT_PATH,
    RECOVERY_CHECKS,
    FollowupOutcome,
    FollowupVerdict,
    followup_verdict,
)
from checks.model import Finding, Status, Thresholds
from checks.regtime import format_registry_time, parse_registry_time
from checks.report import Report
from tests.checks.factories import NOW, client, ctx

HOST = "xp01"
#: what the approval card recorded before the fix
BEFORE = "2026.11.25 08.00.00"
PASSING = ("client.detection_stalled", "client.agent_version", "client.au_state")


def after(hours: float, start: str = BEFORE) -> str:
    return format_registry_time(parse_registry_time(start) + timedelta(hours=hours))


def report(*findings: Finding, unreachable: str | None = None) -> Report:
    return Report(
        host=HOST,
        role="client",
        findings=findings,
        started_at=NOW,
        finished_at=NOW + timedelta(seconds=5),
        unreachable_reason=unreachable,
    )


def found(check: str, status: Status) -> Finding:
    return Finding(check, status, f"{check} is {status.value}")


def all_pass(**overrides: Status) -> Report:
    return report(*(found(check, overrides.get(check, Status.PASS)) for check in PASSING))


def facts_with_lwt(lwt: str | None) -> ClientFacts:
    return client(**{"au.LastWaitTimeout": lwt})


def verdict(
    rep: Report,
    facts: Any,
    before: dict[str, Any] | None = None,
    thresholds: Thresholds | None = None,
) -> FollowupVerdict:
    return followup_verdict(
        HOST,
        rep,
        facts,
        {LWT_PATH: BEFORE} if before is None else before,
        thresholds or Thresholds(),
    )


def test_the_example_times_parse() -> None:
    # format_registry_time writes the real colon form (checks/regtime.py)
    assert after(25) == "2026.11.26 09:00:00"


# ---------------------------------------------------------------- recovered


def test_recovered_when_checks_pass_and_lwt_was_deleted() -> None:
    # right after the reset LastWaitTimeout is gone: nothing moved
    result = verdict(all_pass(), facts_with_lwt(None))
    assert result.outcome is FollowupOutcome.RECOVERED
    assert result.text == (
        "follow-up on xp01: recovered — client.detection_stalled: pass; "
        "client.agent_version: pass; client.au_state: pass"
    )


@pytest.mark.parametrize("moved", [0, 1, 23.99])
def test_recovered_when_lwt_moved_less_than_the_jump(moved: float) -> None:
    result = verdict(all_pass(), facts_with_lwt(after(moved)))
    assert result.outcome is FollowupOutcome.RECOVERED


def test_recovered_without_a_before_value() -> None:
    # the card had no LastWaitTimeout to compare with (no previous run with facts)
    for before in ({}, {LWT_PATH: None}):
        result = verdict(all_pass(), facts_with_lwt(after(100)), before=before)
        assert result.outcome is FollowupOutcome.RECOVERED


# ---------------------------------------------------------------- not recovered


@pytest.mark.parametrize("moved", [24, 25, 72])
def test_not_recovered_when_lwt_jumped(moved: float) -> None:
    now = after(moved)
    result = verdict(all_pass(), facts_with_lwt(now))
    assert result.outcome is FollowupOutcome.NOT_RECOVERED
    assert result.text.startswith("follow-up on xp01: not recovered — LastWaitTimeout moved")
    assert f"from {BEFORE} to {now} (+{moved:.0f} h)" in result.text
    assert "client.detection_stalled: pass" in result.text


@pytest.mark.parametrize("check", RECOVERY_CHECKS)
def test_not_recovered_when_a_recovery_check_fails(check: str) -> None:
    result = verdict(all_pass(**{check: Status.FAIL}), facts_with_lwt(after(1)))
    assert result.outcome is FollowupOutcome.NOT_RECOVERED
    assert result.text.startswith("follow-up on xp01: not recovered — ")
    assert f"{check}: fail" in result.text


def test_failing_checks_count_even_without_facts() -> None:
    result = verdict(all_pass(**{"client.detection_stalled": Status.FAIL}), None)
    assert result.outcome is FollowupOutcome.NOT_RECOVERED


# ---------------------------------------------------------------- unknown


@pytest.mark.parametrize("facts", [None, facts_with_lwt(after(50))])
def test_unknown_when_the_host_could_not_be_read(facts: Any) -> None:
    unknown = tuple(found(check, Status.UNKNOWN) for check in PASSING)
    result = verdict(report(*unknown, unreachable="unreachable"), facts)
    assert result.outcome is FollowupOutcome.UNKNOWN
    assert result.text == "follow-up: xp01 could not be read (unreachable)"


# ---------------------------------------------------------------- one threshold for both


def test_a_30_hour_jump_is_not_a_failure_with_a_48_hour_threshold() -> None:
    """The regression: the follow-up used its own 24 h, the check the configured value."""
    limits = Thresholds(lwt_jump_hours=48)
    result = verdict(all_pass(), facts_with_lwt(after(30)), thresholds=limits)
    assert result.outcome is not FollowupOutcome.NOT_RECOVERED
    assert result.outcome is FollowupOutcome.RECOVERED
    # ... and 50 h is
    result = verdict(all_pass(), facts_with_lwt(after(50)), thresholds=limits)
    assert result.outcome is FollowupOutcome.NOT_RECOVERED


@pytest.mark.parametrize(
    ("jump_hours", "moved", "stalled"),
    [
        (48, 30, False),
        (48, 47.5, False),
        (48, 48, True),
        (48, 50, True),
        (24, 23, False),
        (24, 30, True),
        (6, 7, True),
    ],
)
def test_followup_and_detection_stalled_agree(
    jump_hours: float, moved: float, stalled: bool
) -> None:
    limits = Thresholds(lwt_jump_hours=jump_hours)
    current = facts_with_lwt(after(moved))
    finding = detection_stalled(
        current, ctx(previous=facts_with_lwt(BEFORE), lwt_jump_hours=jump_hours)
    )
    assert finding.status is (Status.FAIL if stalled else Status.PASS), finding
    expected = FollowupOutcome.NOT_RECOVERED if stalled else FollowupOutcome.RECOVERED
    # the LastWaitTimeout rule alone (the finding left out of the report) ...
    assert verdict(report(), current, thresholds=limits).outcome is expected
    # ... and with the check's own finding in the follow-up's report
    others = (found("client.agent_version", Status.PASS), found("client.au_state", Status.PASS))
    assert verdict(report(finding, *others), current, thresholds=limits).outcome is expected


def test_colon_registry_times_are_compared_too() -> None:
    before, now = "2026.11.25 08:00:00", "2026.11.27 10:00:00"
    current = facts_with_lwt(now)
    finding = detection_stalled(current, ctx(previous=facts_with_lwt(before)))
    others = (found("client.agent_version", Status.PASS), found("client.au_state", Status.PASS))
    result = verdict(report(finding, *others), current, before={LWT_PATH: before})
    assert result.outcome is FollowupOutcome.NOT_RECOVERED
