from checks.model import Status
from checks.server.port80_site import evaluate
from tests.checks.factories import assert_problem, assert_unknown, ctx, probe_error, server

#: the WSUS role of Windows Server 2012 R2 reports its binaries' OS build (not verified)
WSUS_2012R2 = "6.3.9600.18228"


def test_pass_when_a_started_site_serves_port_80() -> None:
    finding = evaluate(server(), ctx())
    assert finding.status is Status.PASS
    assert "Default Web Site" in finding.summary


def test_fail_without_fix_when_sites_exist_but_none_on_port_80() -> None:
    # D9: the port-80 fix needs a started port-80 site, so it is never offered here
    facts = server(**{"iis.sites.0.bindings": [{"protocol": "https", "port": 443}]})
    finding = evaluate(facts, ctx())
    assert_problem(finding, Status.FAIL, None)
    assert any("https:443" in line for line in finding.evidence)
    assert "binding on port 80" in (finding.next_step or "")


def test_wsus_2012_and_later_need_no_port_80_site() -> None:
    # [MS-WUSP] 2.1: the self-update directory is on the WSUS port (commonPort)
    facts = server(**{"wsus.version": WSUS_2012R2, "iis.sites.0.bindings": []})
    finding = evaluate(facts, ctx())
    assert finding.status is Status.SKIP
    assert "8530" in finding.summary


def test_wsus_2012_on_port_80_still_needs_its_site_started() -> None:
    facts = server(**{"wsus.version": WSUS_2012R2, "wsus.port": 80, "iis.sites.0.state": "Stopped"})
    assert_problem(evaluate(facts, ctx()), Status.FAIL, None)


def test_unknown_version_without_port_80_site_is_unknown() -> None:
    facts = server(**{"wsus.version": None, "iis.sites.0.bindings": []})
    assert_unknown(evaluate(facts, ctx()), "WSUS version unknown")


def test_a_sus_box_without_port_80_fails() -> None:
    facts = server(**{"wsus.version": None, "wsus.installed": False, "iis.sites.0.bindings": []})
    assert_problem(evaluate(facts, ctx()), Status.FAIL, None)


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
