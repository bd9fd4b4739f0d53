import pytest

from checks.model import Status
from checks.server.anonymous_auth import evaluate
from tests.checks.factories import assert_problem, assert_unknown, ctx, server

FIX = "server.enable_anonymous_auth"


def test_pass_when_enabled_everywhere() -> None:
    finding = evaluate(server(), ctx())
    assert finding.status is Status.PASS
    # both sites' roots plus their WSUS vdirs are listed
    assert len(finding.evidence) == 5


@pytest.mark.parametrize(
    ("path", "where"),
    [
        ("iis.sites.1.anonymous_auth", "'WSUS Administration' (site root)"),
        ("iis.sites.1.vdirs.0.anonymous_auth", "'WSUS Administration'/ClientWebService"),
        ("iis.sites.0.vdirs.0.anonymous_auth", "'Default Web Site'/Selfupdate"),
        ("iis.sites.0.anonymous_auth", "'Default Web Site' (site root)"),
    ],
)
def test_fail_names_each_disabled_place(path: str, where: str) -> None:
    finding = evaluate(server(**{path: False}), ctx())
    assert_problem(finding, Status.FAIL, FIX)
    assert where in finding.summary


def test_unknown_when_a_setting_was_not_read() -> None:
    assert_unknown(
        evaluate(server(**{"iis.sites.1.vdirs.1.anonymous_auth": None}), ctx()), "unknown"
    )


def test_disabled_beats_unknown() -> None:
    facts = server(**{"iis.sites.1.anonymous_auth": None, "iis.sites.0.anonymous_auth": False})
    assert evaluate(facts, ctx()).status is Status.FAIL


def test_unrelated_sites_are_ignored() -> None:
    facts = server(**{"iis.sites.1.vdirs": [], "iis.sites.1.anonymous_auth": False})
    assert evaluate(facts, ctx()).status is Status.PASS


def test_skip_when_nothing_serves_self_update() -> None:
    facts = server(**{"iis.sites": [{"name": "Other", "state": "Started", "bindings": []}]})
    assert evaluate(facts, ctx()).status is Status.SKIP


def test_unknown_without_sites() -> None:
    assert_unknown(evaluate(server(iis=None), ctx()), "iis.sites")
