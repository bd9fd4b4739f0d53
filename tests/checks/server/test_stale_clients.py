from datetime import timedelta

from checks.model import Status
from checks.server.stale_clients import evaluate
from tests.checks.factories import NOW, assert_problem, assert_unknown, computer, ctx, server

RECENT = "2026-11-24T12:00:00Z"


def inventory(*computers: dict[str, object]) -> dict[str, object]:
    return {"wsus_computers.computers": list(computers)}


def test_pass_when_all_synced_recently() -> None:
    finding = evaluate(server(), ctx())
    assert finding.status is Status.PASS
    assert finding.evidence[0] == "2 computers in the inventory"


def test_warn_after_seven_days() -> None:
    facts = server(**inventory(computer("a", RECENT), computer("b", "2026-11-10T12:00:00Z")))
    finding = evaluate(facts, ctx())
    assert_problem(finding, Status.WARN, None)
    assert any(
        line.startswith("last sync 7-30 days ago: 1 — b (15 d)") for line in finding.evidence
    )


def test_warn_for_an_agent_below_the_minimum() -> None:
    finding = evaluate(server(**inventory(computer("old", RECENT, "7.0.6000.374"))), ctx())
    assert_problem(finding, Status.WARN, None)
    assert any("agent below 7.6.7600.256: 1 — old" in line for line in finding.evidence)


def test_fail_after_thirty_days_never_or_sus_era() -> None:
    for facts in (
        server(**inventory(computer("gone", "2026-09-01T00:00:00Z"))),
        server(**inventory(computer("new", None))),
        server(**inventory(computer("sus", RECENT, "5.4.3790.1000"))),
    ):
        assert_problem(evaluate(facts, ctx()), Status.FAIL, None)


def test_thresholds_come_from_the_context() -> None:
    facts = server(**inventory(computer("b", "2026-11-20T12:00:00Z")))
    assert evaluate(facts, ctx(stale_warn_days=2, stale_fail_days=4)).status is Status.FAIL


def test_large_inventory_stays_readable() -> None:
    stale = [computer(f"pc{i:04d}", "2026-01-01T00:00:00Z") for i in range(1000)]
    finding = evaluate(server(**inventory(*stale, computer("ok", RECENT))), ctx())
    assert finding.status is Status.FAIL
    assert "1000 of 1001" in finding.summary
    bucket = next(line for line in finding.evidence if line.startswith("last sync over 30"))
    assert bucket.endswith("and 990 more")
    assert bucket.count("pc") == 10
    assert sum(len(line) for line in finding.evidence) < 2000


def test_oldest_are_named_first() -> None:
    facts = server(
        **inventory(
            computer("newer", "2026-10-01T00:00:00Z"), computer("older", "2026-05-01T00:00:00Z")
        )
    )
    bucket = next(line for line in evaluate(facts, ctx()).evidence if "over 30" in line)
    assert bucket.index("older") < bucket.index("newer")


def test_unreadable_values_are_reported_not_fatal() -> None:
    facts = server(**inventory(computer("bad", "yesterday", "garbage"), computer("ok", RECENT)))
    finding = evaluate(facts, ctx())
    assert finding.status is Status.PASS
    assert any("unreadable sync time or version: 1 — bad" in line for line in finding.evidence)


def test_unknown_when_nothing_is_readable() -> None:
    assert_unknown(evaluate(server(**inventory(computer("bad", "soon"))), ctx()), "readable")


def test_empty_inventory_passes() -> None:
    assert evaluate(server(**inventory()), ctx()).status is Status.PASS


def test_unknown_when_the_document_is_missing() -> None:
    assert_unknown(evaluate(server(wsus_computers=None), ctx()), "wsus_computers")
    facts = server(
        wsus_computers={
            "schema": "wsusbot.wsus_computers/1",
            "computers": None,
            "errors": [{"source": "Get-WsusComputer", "message": "API unavailable"}],
        }
    )
    assert_unknown(evaluate(facts, ctx()), "API unavailable")


def test_unreadable_versions_alone_do_not_make_the_inventory_unknown() -> None:
    recent = (NOW - timedelta(hours=1)).isoformat()
    facts = server(**{"wsus_computers.computers": [computer("pc1", recent, version="n/a")]})
    finding = evaluate(facts, ctx())
    assert finding.status is Status.PASS
    assert any("unreadable" in line for line in finding.evidence)
