import pytest

from checks.client.proxy import bypassed, evaluate
from checks.model import Status
from tests.checks.factories import assert_problem, assert_unknown, client, ctx, probe_error


def proxy(winhttp: str | None, bypass: list[str] | None) -> dict[str, object]:
    return {"proxy": {"winhttp": winhttp, "bypass": bypass}}


def test_pass_without_proxy() -> None:
    assert evaluate(client(), ctx()).status is Status.PASS
    facts = client(**proxy("Direct access (no proxy server).", None))
    assert evaluate(facts, ctx()).status is Status.PASS


@pytest.mark.parametrize(
    "bypass", [["wsus01"], ["<local>"], ["*.corp;wsus0?"], ["http://WSUS01:8530"]]
)
def test_pass_when_bypassed(bypass: list[str]) -> None:
    assert evaluate(client(**proxy("proxy:8080", bypass)), ctx()).status is Status.PASS


def test_warn_when_the_wsus_host_goes_through_the_proxy() -> None:
    finding = evaluate(
        client(
            **proxy("proxy.corp:8080", ["*.corp", "<local>"]),
            **{"policy.WUServer": "http://wsus01.example:8530"},
        ),
        ctx(),
    )
    assert_problem(finding, Status.WARN, None)
    assert "wsus01.example" in finding.summary


def test_falls_back_to_the_inventory_url() -> None:
    facts = client(**proxy("proxy:8080", ["*.corp"]), **{"policy.WUServer": None})
    finding = evaluate(facts, ctx(expected_wsus_url="http://wsus01.corp:8530"))
    assert finding.status is Status.PASS


def test_unknown_without_a_wsus_host() -> None:
    facts = client(**proxy("proxy:8080", []), **{"policy.WUServer": None})
    assert_unknown(evaluate(facts, ctx(expected_wsus_url=None)), "no WSUS host")


def test_unknown_when_missing() -> None:
    assert_unknown(evaluate(client(proxy=None), ctx()), "proxy")
    facts = client(**proxy(None, None), errors=[probe_error("proxy", "netsh failed")])
    assert_unknown(evaluate(facts, ctx()), "netsh failed")


def test_bypass_rules() -> None:
    assert bypassed("wsus01", ["<local>"]) == "<local>"
    assert bypassed("wsus01.corp", ["<local>"]) is None
    assert bypassed("wsus01.corp", ["*.CORP"]) == "*.CORP"
    assert bypassed("corp", ["*.corp"]) is None
    assert bypassed("10.0.0.5", ["10.0.*"]) == "10.0.*"
