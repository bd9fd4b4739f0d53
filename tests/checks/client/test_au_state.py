import pytest

from checks.client.au_state import evaluate
from checks.model import Status
from tests.checks.factories import assert_problem, assert_unknown, client, ctx

FIX = "client.reset_au_state"


@pytest.mark.parametrize("value", [2, 3, 4, 5, 6, 8])
def test_pass_for_working_states(value: int) -> None:
    assert evaluate(client(**{"au.AUState": value}), ctx()).status is Status.PASS


def test_fail_when_disabled() -> None:
    finding = evaluate(client(**{"au.AUState": 7}), ctx())
    assert_problem(finding, Status.FAIL, FIX)
    assert "AUState = 7" in finding.summary


@pytest.mark.parametrize("value", [0, 1, 9, -1])
def test_warn_for_unexpected_values(value: int) -> None:
    assert_problem(evaluate(client(**{"au.AUState": value}), ctx()), Status.WARN, FIX)


def test_unknown_when_missing() -> None:
    assert_unknown(evaluate(client(**{"au.AUState": None}), ctx()), "au.AUState")
    assert_unknown(evaluate(client(au=None), ctx()), "au.AUState")
