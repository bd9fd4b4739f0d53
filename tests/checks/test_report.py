from __future__ import annotations

from datetime import UTC, datetime

from checks.model import Finding, Status
from checks.report import Report

NOW = datetime(2026, 11, 25, 8, tzinfo=UTC)


def test_verdict_counts_fixes_and_round_trip() -> None:
    report = Report(
        host="xp01",
        role="client",
        findings=(
            Finding(
                "client.au_state",
                Status.FAIL,
                "AUState 7",
                ("AUState = 7",),
                "reset",
                "client.reset_au_state",
            ),
            Finding("client.proxy", Status.WARN, "proxy", ("p",), "bypass", None),
            Finding("client.services", Status.PASS, "ok"),
            Finding(
                "client.detection_stalled", Status.UNKNOWN, "no data", fix="client.reset_au_state"
            ),
        ),
        started_at=NOW,
        finished_at=NOW,
        seeds={"client.au_state": ("§9",)},
    )
    assert report.verdict is Status.FAIL
    assert report.counts[Status.FAIL] == 1
    assert report.exit_code == 1
    assert [f.id for f in report.proposed_fixes] == ["client.reset_au_state"]
    assert report.problems[0].check == "client.au_state"
    data = report.to_json()
    assert data["findings"][0]["seed"] == ["§9"]
    again = Report.from_json(data)
    assert again.to_json() == data


def test_unreachable_exit_code_and_empty_verdict() -> None:
    assert Report("h", None, ()).verdict is Status.UNKNOWN
    assert Report("h", None, (), unreachable_reason="timeout").exit_code == 3
