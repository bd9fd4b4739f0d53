import pytest

from checks.model import Status
from checks.server.sharepoint_conflict import evaluate
from tests.checks.factories import assert_problem, assert_unknown, ctx, server

FIX = "server.sharepoint_exclude_paths"
ALL = ["/iuident.cab", "/wutrack.bin", "/clientwebservice", "/Selfupdate"]
#: stsadm.exe file versions: WSS 2.0 lives in ...\web server extensions\60, WSS 3.0 in
#: ...\12 (cc162513); the exact build numbers are illustrative, not verified
WSS2 = "6.0.2.8117"
WSS3 = "12.0.0.6421"
SP2013 = "15.0.4420.1017"


def sharepoint(
    present: bool | None, excluded: list[str] | None, version: str | None = WSS2
) -> dict[str, object]:
    return {
        "iis.sites.0.sharepoint": {
            "present": present,
            "excluded_paths": excluded,
            "version": version,
            "managed_paths": None,
        }
    }


def modern(paths: list[tuple[str, str]], version: str = WSS3) -> dict[str, object]:
    return {
        "iis.sites.0.sharepoint": {
            "present": True,
            "excluded_paths": None,
            "version": version,
            "managed_paths": [{"path": p, "kind": k} for p, k in paths],
        }
    }


#: the managed paths a new web application gets: an explicit inclusion of the root and the
#: wildcard inclusion /sites ("By default, the path /sites is created", Managing Paths,
#: https://learn.microsoft.com/en-us/previous-versions/tn-archive/cc287929(v=office.12))
DEFAULT_PATHS = [("/", "explicit"), ("/sites", "wildcard")]


def test_wss3_with_inclusions_only_passes() -> None:
    # WSS 3.0 has no exclusions (addpath: explicit or wildcard inclusions, cc288781);
    # before issue 11 every such server failed for want of four exclusions
    finding = evaluate(server(**modern(DEFAULT_PATHS)), ctx())
    assert finding.status is Status.PASS
    assert any("inclusions only" in line for line in finding.evidence)


@pytest.mark.parametrize(
    ("path", "kind", "claimed"),
    [
        ("/Selfupdate", "wildcard", "/Selfupdate"),
        ("/selfupdate/", "explicit", "/Selfupdate"),
        ("/ClientWebService", "explicit", "/clientwebservice"),
        ("/selfupdate/au", "explicit", "/Selfupdate"),
        ("/iuident.cab", "explicit", "/iuident.cab"),
    ],
)
def test_inclusion_claiming_a_selfupdate_path_fails(path: str, kind: str, claimed: str) -> None:
    finding = evaluate(server(**modern([*DEFAULT_PATHS, (path, kind)], SP2013)), ctx())
    assert_problem(finding, Status.FAIL, FIX)
    assert claimed in finding.summary
    assert "deletepath" in (finding.next_step or "")


def test_root_wildcard_only_warns() -> None:
    # "/*" makes every directory a site collection, but existing vdirs and files are
    # excluded automatically (SPPrefixType, ms464544)
    finding = evaluate(server(**modern([("/*", "wildcard")])), ctx())
    assert_problem(finding, Status.WARN, FIX)


def test_modern_version_without_managed_paths_is_unknown() -> None:
    facts = server(**modern([]))
    facts_doc = {**facts.model_dump(by_alias=True)}
    facts_doc["iis"]["sites"][0]["sharepoint"]["managed_paths"] = None
    assert_unknown(evaluate(server(**{"iis": facts_doc["iis"]}), ctx()), "managed_paths")


def test_unknown_version_decides_only_when_everything_is_excluded() -> None:
    assert evaluate(server(**sharepoint(True, ALL, None)), ctx()).status is Status.PASS
    assert_unknown(evaluate(server(**sharepoint(True, [], None)), ctx()), "version")


def test_wss2_exclusions_can_come_from_managed_paths() -> None:
    doc = sharepoint(True, None)
    doc["iis.sites.0.sharepoint"]["managed_paths"] = [  # type: ignore[index]
        {"path": p, "kind": "exclusion"} for p in ALL
    ]
    assert evaluate(server(**doc), ctx()).status is Status.PASS


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
    assert "-type exclusion" in (finding.next_step or "")
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
