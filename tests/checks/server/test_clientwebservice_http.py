import pytest

from checks.model import Status
from checks.server.clientwebservice_http import evaluate
from tests.checks.factories import WSUS_URL, assert_problem, assert_unknown, ctx, http, server

URL = f"{WSUS_URL}/ClientWebService/client.asmx"


def test_pass_on_200() -> None:
    assert evaluate(server(), ctx()).status is Status.PASS


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (404, "not look like a WSUS"),
        (401, "HTTP 401"),
        (403, "HTTP 403"),
        (500, "HTTP 500"),
        (503, "WsusPool"),
    ],
)
def test_fail_per_status(status: int, words: str) -> None:
    finding = evaluate(server(**{"http.2": http(URL, status)}), ctx())
    assert_problem(finding, Status.FAIL, None)
    assert words in finding.summary
    assert any(URL in line for line in finding.evidence)


def test_fail_when_refused() -> None:
    finding = evaluate(server(**{"http.2": http(URL, None, "refused")}), ctx())
    assert_problem(finding, Status.FAIL, None)


def test_unknown_when_not_probed_or_missing() -> None:
    assert_unknown(evaluate(server(**{"http": []}), ctx()), "client.asmx")
    assert_unknown(evaluate(server(http=None), ctx()), "http")
