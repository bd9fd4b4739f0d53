from checks.client.policy_use_wuserver import evaluate
from checks.model import Status
from tests.checks.factories import assert_problem, assert_unknown, client, ctx, probe_error

FIX = "client.set_wsus_policy"


def test_pass_when_one() -> None:
    assert evaluate(client(), ctx()).status is Status.PASS


def test_fail_when_zero_or_absent() -> None:
    finding = evaluate(client(**{"policy.UseWUServer": 0}), ctx())
    assert_problem(finding, Status.FAIL, FIX)
    assert "is 0" in finding.summary
    finding = evaluate(client(**{"policy.UseWUServer": None}), ctx())
    assert_problem(finding, Status.FAIL, FIX)
    assert "not set" in finding.summary


def test_unknown_when_unreadable() -> None:
    facts = client(**{"policy.UseWUServer": None}, errors=[probe_error("policy.AU", "denied")])
    assert_unknown(evaluate(facts, ctx()), "denied")
    assert_unknown(evaluate(client(policy=None), ctx()), "policy")
