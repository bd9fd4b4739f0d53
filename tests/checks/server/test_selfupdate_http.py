import pytest

from checks.model import Status
from checks.server.selfupdate_http import evaluate
from tests.checks.factories import assert_problem, assert_unknown, ctx, http, server

WSUS_2012R2 = "6.3.9600.18228"
WSUS_PORT_WUIDENT = "http://wsus01:8530/selfupdate/wuident.cab"


def test_pass_when_both_files_answer_200() -> None:
    finding = evaluate(server(), ctx())
    assert finding.status is Status.PASS
    assert len(finding.evidence) == 3
    assert "3.2.7600.226 (WSUS 3.x)" in finding.evidence[-1]


def test_wsus_3_ignores_the_wsus_port_copy() -> None:
    facts = server(**{"http": [*server().model_dump()["http"], http(WSUS_PORT_WUIDENT, 404)]})
    assert evaluate(facts, ctx()).status is Status.PASS


def test_wsus_2012_needs_only_the_wsus_port_copy() -> None:
    # the port-80 files are the legacy tree, which the 2012+ role is not required to serve
    probes = [
        http("http://wsus01/selfupdate/wuident.cab", 404),
        http("http://wsus01/iuident.cab", None, "refused"),
        http("http://wsus01:8530/ClientWebService/client.asmx"),
        http(WSUS_PORT_WUIDENT),
    ]
    finding = evaluate(server(**{"wsus.version": WSUS_2012R2, "http": probes}), ctx())
    assert finding.status is Status.PASS
    assert "WSUS-port /selfupdate/wuident.cab" in finding.summary


def test_wsus_2012_fails_when_the_wsus_port_copy_fails_without_port_80_fix() -> None:
    extra = server(**{"http": [http(WSUS_PORT_WUIDENT, 404)]}).http or []
    facts = server(**{"wsus.version": WSUS_2012R2})
    facts = facts.model_copy(update={"http": [*(facts.http or []), *extra]})
    finding = evaluate(facts, ctx())
    assert_problem(finding, Status.FAIL, None)


def test_wsus_2012_without_a_wsus_port_probe_is_unknown() -> None:
    assert_unknown(evaluate(server(**{"wsus.version": WSUS_2012R2}), ctx()), "WSUS-port")


def test_unknown_version_with_only_the_wsus_port_copy_working_is_unknown() -> None:
    extra = server(**{"http": [http(WSUS_PORT_WUIDENT)]}).http or []
    facts = server(
        **{"wsus.version": None, "http.0": http("http://wsus01/selfupdate/wuident.cab", 404)}
    )
    facts = facts.model_copy(update={"http": [*(facts.http or []), *extra]})
    assert_unknown(evaluate(facts, ctx()), "version")


@pytest.mark.parametrize(
    ("status", "fix", "cause"),
    [
        (401, "server.enable_anonymous_auth", "SharePoint"),
        (403, "server.enable_anonymous_auth", "anonymous authentication"),
        (404, "server.install_selfupdate_port80", "virtual directory"),
        (500, None, "application error"),
        (503, "server.start_services", "WsusPool"),
    ],
)
def test_fail_explains_each_status(status: int, fix: str | None, cause: str) -> None:
    facts = server(**{"http.0": http("http://wsus01/selfupdate/wuident.cab", status)})
    finding = evaluate(facts, ctx())
    assert_problem(finding, Status.FAIL, fix)
    assert f"HTTP {status}" in finding.summary
    assert any(cause in line for line in finding.evidence)


@pytest.mark.parametrize(("error", "cause"), [("refused", "connections"), ("timeout", "timed out")])
def test_fail_when_there_is_no_answer(error: str, cause: str) -> None:
    facts = server(**{"http.1": http("http://wsus01/iuident.cab", None, error)})
    finding = evaluate(facts, ctx())
    assert_problem(finding, Status.FAIL, None)
    assert error in finding.summary
    assert any(cause in line for line in finding.evidence)


def test_unknown_when_one_url_was_not_probed() -> None:
    facts = server(**{"http": [http("http://wsus01/iuident.cab")]})
    assert_unknown(evaluate(facts, ctx()), "/selfupdate/wuident.cab")


def test_unknown_when_http_is_missing() -> None:
    assert_unknown(evaluate(server(http=None), ctx()), "http")
