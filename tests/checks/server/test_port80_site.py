from checks.model import Status
from checks.server.port80_site import evaluate
from tests.checks.factories import assert_problem, assert_unknown, ctx, probe_error, server

FIX = "server.install_selfupdate_port80"


def test_pass_when_a_started_site_serves_port_80() -> None:
    finding = evaluate(server(), ctx())
    assert finding.status is Status.PASS
    assert "Default Web Site" in finding.summary


def test_fail_with_fix_when_sites_exist_but_none_on_port_80() -> None:
    facts = server(**{"iis.sites.0.bindings": [{"protocol": "https", "port": 443}]})
    finding = evaluate(facts, ctx())
    assert_problem(finding, Status.FAIL, FIX)
    assert any("https:443" in line for line in finding.evidence)


def test_fail_without_fix_when_the_port_80_site_is_stopped() -> None:
    finding = evaluate(server(**{"iis.sites.0.state": "Stopped"}), ctx())
    assert_problem(finding, Status.FAIL, None)
    assert "not started" in finding.summary


def test_fail_manual_when_iis_has_no_sites() -> None:
    finding = evaluate(server(**{"iis.sites": []}), ctx())
    assert_problem(finding, Status.FAIL, None)
    assert "port 80" in (finding.next_step or "")


def test_unknown_when_the_site_state_is_missing() -> None:
    finding = evaluate(server(**{"iis.sites.0.state": None}), ctx())
    assert_unknown(finding, "state")


def test_unknown_names_the_missing_field_and_probe_error() -> None:
    facts = server(**{"iis": None, "errors": [probe_error("iis", "WebAdministration missing")]})
    assert_unknown(evaluate(facts, ctx()), "iis.sites", "WebAdministration missing")
