"""client.au_enabled reads the policy and the Control Panel AUOptions.

Values as documented: policy AU\\NoAutoUpdate 1 = disabled, AUOptions 2-5 (and 7 on Server
2016+) (https://learn.microsoft.com/windows/deployment/update/waas-wu-settings; ADMX quoted in
https://github.com/MicrosoftDocs/windows-itpro-docs/issues/11246); Control Panel
...\\CurrentVersion\\WindowsUpdate\\Auto Update AUOptions "1 = Disables AU (Same as disabling
it through the standard controls)" (http://smallvoid.com/article/winnt-automatic-updates-config.html).
"""

import pytest

from checks.client.au_enabled import evaluate
from checks.model import Status
from tests.checks.factories import assert_problem, assert_unknown, client, ctx, probe_error

FIX = "client.enable_automatic_updates"
NO_POLICY = {"policy.NoAutoUpdate": None, "policy.AUOptions": None}


def test_pass_when_enabled() -> None:
    assert evaluate(client(), ctx()).status is Status.PASS


def test_pass_when_policy_leaves_it_to_control_panel() -> None:
    finding = evaluate(client(**NO_POLICY), ctx())
    assert finding.status is Status.PASS
    assert any("Control Panel setting applies" in line for line in finding.evidence)


def test_fail_when_no_auto_update() -> None:
    finding = evaluate(client(**{"policy.NoAutoUpdate": 1}), ctx())
    assert_problem(finding, Status.FAIL, FIX)
    assert "NoAutoUpdate = 1" in finding.summary


def test_fail_when_policy_au_options_is_one() -> None:
    finding = evaluate(client(**{"policy.AUOptions": 1}), ctx())
    assert_problem(finding, Status.FAIL, FIX)
    assert "by policy" in finding.summary


@pytest.mark.parametrize("value", [0, 6, 9])
def test_warn_on_an_undocumented_policy_au_options(value: int) -> None:
    assert_problem(evaluate(client(**{"policy.AUOptions": value}), ctx()), Status.WARN, FIX)


@pytest.mark.parametrize("value", [2, 3, 4, 5, 7])
def test_documented_policy_values_pass(value: int) -> None:
    assert evaluate(client(**{"policy.AUOptions": value}), ctx()).status is Status.PASS


def test_fail_when_turned_off_in_control_panel() -> None:
    # seed §9 steps 14-16: Control Panel > Automatic Updates off writes AUOptions = 1 in the
    # non-policy key; AUState 7 goes with it ("AUOptions will also be set to a value of 0x1")
    finding = evaluate(client(**NO_POLICY, **{"au.AUOptions": 1, "au.AUState": 7}), ctx())
    assert_problem(finding, Status.FAIL, FIX)
    assert "Control Panel" in finding.summary
    assert any("Auto Update: AUOptions = 1" in line for line in finding.evidence)


def test_the_policy_overrides_a_control_panel_off() -> None:
    finding = evaluate(client(**{"au.AUOptions": 1}), ctx())
    assert finding.status is Status.PASS
    assert "by policy (AUOptions = 4)" in finding.summary
    assert any("overrides the Control Panel value 1" in line for line in finding.evidence)


def test_no_auto_update_rules_even_when_control_panel_is_on() -> None:
    finding = evaluate(client(**{"policy.NoAutoUpdate": 1, "policy.AUOptions": None}), ctx())
    assert_problem(finding, Status.FAIL, FIX)


@pytest.mark.parametrize("value", [0, 2, 3, 4])
def test_control_panel_values_that_pass(value: int) -> None:
    assert evaluate(client(**NO_POLICY, **{"au.AUOptions": value}), ctx()).status is Status.PASS


def test_warn_on_an_undocumented_control_panel_value() -> None:
    finding = evaluate(client(**NO_POLICY, **{"au.AUOptions": 8}), ctx())
    assert_problem(finding, Status.WARN, FIX)


def test_unknown_when_unreadable() -> None:
    facts = client(
        **NO_POLICY,
        **{"au.AUOptions": None},
        errors=[probe_error("policy", "registry read failed")],
    )
    assert_unknown(evaluate(facts, ctx()), "registry read failed")
    assert_unknown(evaluate(client(policy=None, **{"au.AUOptions": None}), ctx()), "policy")
    assert_unknown(evaluate(client(policy=None, au=None), ctx()), "policy and au")


def test_control_panel_alone_decides_without_a_policy_section() -> None:
    finding = evaluate(client(policy=None, **{"au.AUOptions": 1}), ctx())
    assert_problem(finding, Status.FAIL, FIX)
