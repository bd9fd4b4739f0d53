import pytest

from checks.model import Status
from checks.server.selfupdate_http import evaluate
from tests.checks.factories import assert_problem, assert_unknown, ctx, http, server


def test_pass_when_both_files_answer_200() -> None:
    finding = evaluate(server(), ctx())
    assert finding.status is Status.PASS
    assert len(finding.evidence) == 2


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
