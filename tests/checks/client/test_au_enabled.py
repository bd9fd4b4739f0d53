from checks.client.au_enabled import evaluate
from checks.model import Status
from tests.checks.factories import assert_problem, assert_unknown, client, ctx, probe_error

FIX = "client.set_wsus_policy"


def test_pass_when_enabled() -> None:
    assert evaluate(client(), ctx()).status is Status.PASS


def test_pass_when_policy_leaves_it_to_control_panel() -> None:
    facts = client(**{"policy.NoAutoUpdate": None, "policy.AUOptions": None})
    finding = evaluate(facts, ctx())
    assert finding.status is Status.PASS
    assert any("Control Panel" in line for line in finding.evidence)


def test_fail_when_no_auto_update() -> None:
    finding = evaluate(client(**{"policy.NoAutoUpdate": 1}), ctx())
    assert_problem(finding, Status.FAIL, FIX)
    assert "NoAutoUpdate = 1" in finding.summary


def test_fail_when_au_options_is_one() -> None:
    assert_problem(evaluate(client(**{"policy.AUOptions": 1}), ctx()), Status.FAIL, FIX)


def test_warn_on_an_unexpected_au_options() -> None:
    assert_problem(evaluate(client(**{"policy.AUOptions": 9}), ctx()), Status.WARN, FIX)


def test_unknown_when_unreadable() -> None:
    facts = client(
        **{"policy.NoAutoUpdate": None, "policy.AUOptions": None},
        errors=[probe_error("policy", "registry read failed")],
    )
    assert_unknown(evaluate(facts, ctx()), "registry read failed")
    assert_unknown(evaluate(client(policy=None), ctx()), "policy")
