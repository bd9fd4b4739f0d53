"""Issue 4's acceptance: for every lab scenario the live runner reports exactly the failing
and warning checks the scenario file declares (and hosts that cannot be read are unknown
with the right reason)."""

from __future__ import annotations

from pathlib import Path

import pytest

from checks.model import Status
from lab.scenarios import load_scenario, scenario_names
from tests.integration.lab_support import check_hosts, lab_services

#: a host's transport/executor fault -> the reason the bot must give
FAULT_REASONS = {
    "refuse": "unreachable",
    "force_401": "auth_failed",
    "fault_500": "remote_error",
    "malformed_xml": "bad_output",
    "truncate_json": "bad_output",
    "hang": "timeout",
}


@pytest.mark.parametrize("name", scenario_names())
def test_scenario_verdicts_match_the_scenario_file(name: str, tmp_path: Path) -> None:
    scenario = load_scenario(name)
    with lab_services(name, tmp_path) as (_estate, services, _config):
        reports = check_hosts(services)
    managed = {h.name for h in scenario.hosts if h.managed}
    assert set(reports) == managed
    assert set(scenario.expect) <= managed, "the scenario expects results of unknown hosts"
    for spec in scenario.hosts:
        if spec.name not in reports:
            continue
        report = reports[spec.name]
        reasons = [FAULT_REASONS[f] for f in spec.faults if f in FAULT_REASONS and spec.faults[f]]
        if reasons:
            assert report.unreachable_reason == reasons[0], spec.name
            assert {f.status for f in report.findings} == {Status.UNKNOWN}
            continue
        expected = scenario.expect.get(spec.name)
        fail = set(expected.fail) if expected else set()
        warn = set(expected.warn) if expected else set()
        got_fail = report.failing_ids(Status.FAIL)
        got_warn = report.failing_ids(Status.WARN)
        details = {
            f.check: (f.status.value, f.summary, f.evidence)
            for f in report.findings
            if f.status not in (Status.PASS, Status.SKIP)
        }
        assert (got_fail, got_warn) == (fail, warn), f"{name}/{spec.name}: {details}"
        assert not report.failing_ids(Status.UNKNOWN), f"{name}/{spec.name}: {details}"
        if name == "healthy":
            assert report.verdict is Status.PASS


def test_client_network_blocked_blames_the_client_network(tmp_path: Path) -> None:
    with lab_services("client_network_blocked", tmp_path) as (_estate, services, _):
        reports = check_hosts(services)
    server = reports["wsus01"]
    assert Status.FAIL not in {f.status for f in server.findings}
    finding = next(f for f in reports["xp01"].findings if f.check == "client.selfupdate_reachable")
    assert finding.status is Status.FAIL
    text = (finding.summary + " ".join(finding.evidence)).lower()
    assert "network" in text
    assert "bot" in text
