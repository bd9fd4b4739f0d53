import pytest

from checks.client.policy_wuserver import evaluate, normalize_url
from checks.model import Status
from tests.checks.factories import assert_problem, assert_unknown, client, ctx, probe_error

FIX = "client.set_wsus_policy"


def urls(server: str | None, status: str | None) -> dict[str, str | None]:
    return {"policy.WUServer": server, "policy.WUStatusServer": status}


def test_pass_when_both_match_the_inventory() -> None:
    assert evaluate(client(), ctx()).status is Status.PASS


def test_case_trailing_slash_and_default_port_are_ignored() -> None:
    facts = client(**urls("HTTP://WSUS01:8530/", "http://wsus01:8530"))
    assert evaluate(facts, ctx()).status is Status.PASS
    facts = client(**urls("http://wsus01:80", "http://wsus01/"))
    assert evaluate(facts, ctx(expected_wsus_url="http://WSUS01")).status is Status.PASS


def test_pass_without_an_expected_url() -> None:
    facts = client(**urls("https://other:8531", "https://other:8531"))
    assert evaluate(facts, ctx(expected_wsus_url=None)).status is Status.PASS


@pytest.mark.parametrize(
    ("server", "status", "words"),
    [
        (None, None, "WUServer, WUStatusServer not set"),
        ("http://wsus01:8530", "  ", "WUStatusServer not set"),
        ("wsus01:8530", "wsus01:8530", "not an http(s) URL"),
        ("ftp://wsus01", "ftp://wsus01", "not an http(s) URL"),
        ("http://", "http://", "not an http(s) URL"),
        ("http://wsus01:8530", "http://wsus02:8530", "different servers"),
        ("http://sus01", "http://sus01", "not at its WSUS server"),
    ],
)
def test_fail_rules(server: str | None, status: str | None, words: str) -> None:
    finding = evaluate(client(**urls(server, status)), ctx())
    assert_problem(finding, Status.FAIL, FIX)
    assert words in finding.summary


def test_unknown_when_the_probe_could_not_read_the_key() -> None:
    facts = client(**urls(None, None), errors=[probe_error("policy", "access denied")])
    assert_unknown(evaluate(facts, ctx()), "access denied")
    assert_unknown(evaluate(client(policy=None), ctx()), "policy")


def test_normalize_url() -> None:
    assert normalize_url("HTTP://Wsus01:80/") == "http://wsus01"
    assert normalize_url("https://wsus01:8531/x/") == "https://wsus01:8531/x"
    assert normalize_url("http://wsus01:99999") is None
    assert normalize_url("http://wsus 01") is None


@pytest.mark.parametrize(
    ("server", "named", "listens"),
    [
        # WSUS moved from the Default Web Site (80) to its own site (8530): GPO not updated
        ("http://wsus01", "http:80", "http:8530"),
        ("http://wsus01:8531", "http:8531", "http:8530"),
        # SSL configured on the client only: https on 8531 while the server serves http
        ("https://wsus01:8531", "https:8531", "http:8530"),
    ],
)
def test_port_mismatch_is_named(server: str, named: str, listens: str) -> None:
    finding = evaluate(client(**urls(server, server)), ctx(expected_wsus_url="http://wsus01:8530"))
    assert_problem(finding, Status.FAIL, FIX)
    assert finding.summary.startswith("Port mismatch")
    assert f"names {named}" in finding.summary
    assert f"listens on {listens}" in finding.summary


def test_same_endpoint_other_path_is_not_called_a_port_mismatch() -> None:
    facts = client(**urls("http://wsus01:8530/wsus", "http://wsus01:8530/wsus"))
    finding = evaluate(facts, ctx(expected_wsus_url="http://wsus01:8530"))
    assert finding.status is Status.FAIL
    assert "another path" in finding.summary
