import pytest

from checks.model import Status
from checks.server.services import evaluate
from tests.checks.factories import assert_problem, assert_unknown, ctx, probe_error, server

FIX = "server.start_services"


def test_pass_when_everything_runs() -> None:
    assert evaluate(server(), ctx()).status is Status.PASS


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"services.WsusService.state": "Stopped"}, "WsusService is stopped"),
        ({"services.W3SVC.state": "Stopped"}, "W3SVC is stopped"),
        ({"services.W3SVC.start_mode": "Disabled"}, "W3SVC is disabled"),
        ({"iis.app_pools.1.state": "Stopped"}, "WsusPool is stopped"),
    ],
)
def test_fail_with_fix(changes: dict[str, str], words: str) -> None:
    finding = evaluate(server(**changes), ctx())
    assert_problem(finding, Status.FAIL, FIX)
    assert words in finding.summary


def test_fail_without_fix_when_wsuspool_does_not_exist() -> None:
    finding = evaluate(server(**{"iis.app_pools": [{"name": "DefaultAppPool"}]}), ctx())
    assert_problem(finding, Status.FAIL, None)
    assert "DefaultAppPool" in " ".join(finding.evidence)


def test_unknown_names_what_was_not_read() -> None:
    facts = server(**{"services.W3SVC": None, "errors": [probe_error("services", "WMI denied")]})
    assert_unknown(evaluate(facts, ctx()), "W3SVC", "WMI denied")
    assert_unknown(evaluate(server(**{"iis.app_pools": None}), ctx()), "iis.app_pools")
    assert_unknown(evaluate(server(services=None), ctx()), "services")


def test_stopped_beats_unknown() -> None:
    facts = server(**{"services.W3SVC": None, "services.WsusService.state": "Stopped"})
    assert evaluate(facts, ctx()).status is Status.FAIL
