from checks.model import Status
from checks.server.sharepoint_conflict import evaluate
from tests.checks.factories import assert_problem, assert_unknown, ctx, server

FIX = "server.sharepoint_exclude_paths"
ALL = ["/iuident.cab", "/wutrack.bin", "/clientwebservice", "/Selfupdate"]


def sharepoint(present: bool | None, excluded: list[str] | None) -> dict[str, object]:
    return {"iis.sites.0.sharepoint": {"present": present, "excluded_paths": excluded}}


def test_skip_without_sharepoint() -> None:
    finding = evaluate(server(), ctx())
    assert finding.status is Status.SKIP
    assert "not installed" in finding.summary


def test_pass_when_every_path_is_excluded_case_insensitively() -> None:
    excluded = ["/IUIDENT.CAB", "/wutrack.bin/", "/ClientWebService", "/selfupdate"]
    assert evaluate(server(**sharepoint(True, excluded)), ctx()).status is Status.PASS


def test_fail_lists_the_paths_not_excluded() -> None:
    finding = evaluate(server(**sharepoint(True, ["/iuident.cab"])), ctx())
    assert_problem(finding, Status.FAIL, FIX)
    assert "/wutrack.bin, /clientwebservice, /Selfupdate" in finding.summary
    assert "/iuident.cab" not in finding.summary


def test_fail_with_no_exclusions_at_all() -> None:
    finding = evaluate(server(**sharepoint(True, [])), ctx())
    assert_problem(finding, Status.FAIL, FIX)
    assert all(path in finding.summary for path in ALL)


def test_unknown_when_presence_or_exclusions_are_missing() -> None:
    assert_unknown(evaluate(server(**sharepoint(None, None)), ctx()), "sharepoint")
    assert_unknown(evaluate(server(**sharepoint(True, None)), ctx()), "excluded_paths")
    assert_unknown(evaluate(server(**{"iis.sites.0.sharepoint": None}), ctx()), "sharepoint")


def test_skip_when_no_port_80_site() -> None:
    facts = server(**{"iis.sites.0.bindings": [], **sharepoint(True, [])})
    assert evaluate(facts, ctx()).status is Status.SKIP
