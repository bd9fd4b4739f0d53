from checks.model import Status
from checks.server.wsus_binding import evaluate, ssl_port
from tests.checks.factories import assert_problem, assert_unknown, ctx, server

HTTP_8530 = {"protocol": "http", "port": 8530, "host": ""}
HTTPS_8531 = {"protocol": "https", "port": 8531, "host": ""}


def test_ssl_ports_pair_80_443_and_8530_8531() -> None:
    assert ssl_port(80) == 443
    assert ssl_port(8530) == 8531


def test_pass_on_8530_without_ssl() -> None:
    assert evaluate(server(), ctx()).status is Status.PASS


def test_pass_with_ssl_and_both_bindings() -> None:
    facts = server(**{"wsus.ssl": True, "iis.sites.1.bindings": [HTTP_8530, HTTPS_8531]})
    finding = evaluate(facts, ctx())
    assert finding.status is Status.PASS
    assert "https:8531" in finding.summary


def test_fail_when_ssl_is_on_but_there_is_no_https_binding() -> None:
    finding = evaluate(server(**{"wsus.ssl": True}), ctx())
    assert_problem(finding, Status.FAIL, None)
    assert "https binding on port 8531" in finding.summary


def test_fail_when_the_wsus_port_is_not_bound() -> None:
    # SSL needs both: https for metadata, http for the update files
    facts = server(**{"wsus.ssl": True, "iis.sites.1.bindings": [HTTPS_8531]})
    finding = evaluate(facts, ctx())
    assert_problem(finding, Status.FAIL, None)
    assert "http binding on port 8530" in finding.summary


def test_a_stopped_site_does_not_count() -> None:
    assert_problem(evaluate(server(**{"iis.sites.1.state": "Stopped"}), ctx()), Status.FAIL, None)


def test_skip_and_unknown() -> None:
    assert evaluate(server(**{"wsus.installed": False}), ctx()).status is Status.SKIP
    assert_unknown(evaluate(server(**{"wsus.port": None}), ctx()), "wsus.port")
    assert_unknown(evaluate(server(wsus=None), ctx()), "wsus")
