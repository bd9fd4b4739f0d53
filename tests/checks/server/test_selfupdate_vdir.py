from checks.model import Status
from checks.server.selfupdate_vdir import evaluate
from tests.checks.factories import assert_problem, assert_unknown, ctx, server

FIX = "server.install_selfupdate_port80"


def test_pass_when_the_vdir_exists_on_disk() -> None:
    assert evaluate(server(), ctx()).status is Status.PASS


def test_vdir_name_is_case_and_slash_insensitive() -> None:
    facts = server(**{"iis.sites.0.vdirs.0.path": "selfupdate/"})
    assert evaluate(facts, ctx()).status is Status.PASS


def test_fail_when_the_vdir_is_missing() -> None:
    finding = evaluate(server(**{"iis.sites.0.vdirs": []}), ctx())
    assert_problem(finding, Status.FAIL, FIX)
    assert "no Selfupdate" in finding.summary


def test_fail_when_the_physical_path_is_missing() -> None:
    finding = evaluate(server(**{"iis.sites.0.vdirs.0.exists": False}), ctx())
    assert_problem(finding, Status.FAIL, FIX)
    assert any("folder missing" in line for line in finding.evidence)


def test_only_the_port_80_site_counts() -> None:
    # the WSUS Administration site (8530) has a Selfupdate vdir, the port-80 site has none
    finding = evaluate(server(**{"iis.sites.0.vdirs": []}), ctx())
    assert finding.status is Status.FAIL


def test_skip_when_no_site_serves_port_80() -> None:
    facts = server(**{"iis.sites.0.bindings": []})
    finding = evaluate(facts, ctx())
    assert finding.status is Status.SKIP
    assert "server.port80_site" in finding.summary


def test_unknown_when_existence_is_not_reported() -> None:
    assert_unknown(evaluate(server(**{"iis.sites.0.vdirs.0.exists": None}), ctx()), "exists")


def test_unknown_when_vdirs_or_sites_are_missing() -> None:
    assert_unknown(evaluate(server(**{"iis.sites.0.vdirs": None}), ctx()), "vdirs")
    assert_unknown(evaluate(server(**{"iis.sites": None}), ctx()), "iis.sites")


WSUS_2012R2 = "6.3.9600.18228"


def test_wsus_2012_looks_at_the_wsus_site_not_port_80() -> None:
    # [MS-WUSP] 2.1: the self-update directory is on the WSUS port
    facts = server(**{"wsus.version": WSUS_2012R2, "iis.sites.0.vdirs": []})
    finding = evaluate(facts, ctx())
    assert finding.status is Status.PASS
    assert "WSUS Administration" in finding.summary


def test_wsus_2012_missing_vdir_fails_without_the_port_80_fix() -> None:
    facts = server(**{"wsus.version": WSUS_2012R2, "iis.sites.1.vdirs": []})
    finding = evaluate(facts, ctx())
    assert_problem(finding, Status.FAIL, None)
    assert "WSUS site" in finding.summary


def test_no_fix_when_the_install_script_is_absent() -> None:
    facts = server(**{"iis.sites.0.vdirs": [], "wsus.selfupdate_script_present": False})
    finding = evaluate(facts, ctx())
    assert_problem(finding, Status.FAIL, None)
    assert "InstallSelfupdateOnPort80.vbs is not" in (finding.next_step or "")


def test_unknown_version_with_the_tree_only_on_the_wsus_site_is_unknown() -> None:
    facts = server(**{"wsus.version": None, "iis.sites.0.vdirs": []})
    assert_unknown(evaluate(facts, ctx()), "version")


def test_unknown_version_with_the_tree_nowhere_fails() -> None:
    facts = server(**{"wsus.version": None, "iis.sites.0.vdirs": [], "iis.sites.1.vdirs": []})
    assert_problem(evaluate(facts, ctx()), Status.FAIL, "server.install_selfupdate_port80")
