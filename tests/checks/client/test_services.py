import pytest

from checks.client.services import evaluate
from checks.model import Status
from tests.checks.factories import assert_problem, assert_unknown, client, ctx

FIX = "client.restart_wuauserv"


def test_pass_with_bits_stopped_on_demand() -> None:
    assert evaluate(client(), ctx()).status is Status.PASS


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"services.wuauserv.state": "Stopped"}, "wuauserv is stopped"),
        ({"services.wuauserv.start_mode": "Disabled"}, "wuauserv is disabled"),
    ],
)
def test_fail_on_wuauserv(changes: dict[str, str], words: str) -> None:
    finding = evaluate(client(**changes), ctx())
    assert_problem(finding, Status.FAIL, FIX)
    assert words in finding.summary.lower()


def test_fail_without_fix_when_bits_is_disabled() -> None:
    finding = evaluate(client(**{"services.BITS.start_mode": "Disabled"}), ctx())
    assert_problem(finding, Status.FAIL, None)
    assert "BITS" in finding.summary


def test_unknown_when_missing() -> None:
    assert_unknown(evaluate(client(services=None), ctx()), "services")
    assert_unknown(evaluate(client(**{"services.wuauserv": None}), ctx()), "wuauserv")
    assert_unknown(evaluate(client(**{"services.BITS": None}), ctx()), "BITS")
