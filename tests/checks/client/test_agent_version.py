import pytest

from checks.client.agent_version import evaluate
from checks.model import Status
from tests.checks.factories import assert_problem, assert_unknown, client, ctx

FIX = "client.reset_au_state"


@pytest.mark.parametrize("version", ["7.6.7600.256", "10.0.19041.3636", "7.6.7600.320"])
def test_pass_for_current_agents(version: str) -> None:
    assert evaluate(client(**{"agent.wuaueng_version": version}), ctx()).status is Status.PASS


@pytest.mark.parametrize("version", ["5.4.3790.2180", "5.4.3790.2180 (srv03_sp1_rtm.050324-1447)"])
def test_fail_for_sus_era_agents(version: str) -> None:
    finding = evaluate(client(**{"agent.wuaueng_version": version}), ctx())
    assert_problem(finding, Status.FAIL, FIX)
    assert "SUS-era" in finding.summary


@pytest.mark.parametrize("version", ["5.8.0.2469", "7.0.6000.374", "7.6.7600.255"])
def test_warn_below_the_minimum(version: str) -> None:
    finding = evaluate(client(**{"agent.wuaueng_version": version}), ctx())
    assert_problem(finding, Status.WARN, FIX)


def test_minimum_comes_from_thresholds() -> None:
    facts = client(**{"agent.wuaueng_version": "7.6.7600.256"})
    assert evaluate(facts, ctx(min_client_version="7.6.7601.0")).status is Status.WARN


@pytest.mark.parametrize("version", ["", "unknown", "7.6..1", "-1.0", "1.2a"])
def test_unknown_for_garbage(version: str) -> None:
    assert_unknown(evaluate(client(**{"agent.wuaueng_version": version}), ctx()), "version")


def test_unknown_when_missing() -> None:
    assert_unknown(evaluate(client(agent=None), ctx()), "agent.wuaueng_version")
