import pytest

from checks.model import Status
from checks.server.wsuspool import (
    DEFAULT_PRIVATE_MEMORY_KB,
    RECOMMENDED_PRIVATE_MEMORY_KB,
    evaluate,
)
from tests.checks.factories import assert_problem, assert_unknown, ctx, server

FIX = "server.raise_wsuspool_memory"
POOL = "iis.app_pools.1"


def limit(kb: int | None, state: str = "Started") -> dict[str, object]:
    return {
        POOL: {"name": "WsusPool", "state": state, "private_memory_kb": kb, "queue_length": 1000}
    }


def test_numbers_follow_the_sources() -> None:
    # 1,843,200 KB default (third-party); Microsoft: "x4 times, or set to 0"
    assert DEFAULT_PRIVATE_MEMORY_KB == 1_843_200
    assert RECOMMENDED_PRIVATE_MEMORY_KB == 7_372_800


def test_no_limit_passes() -> None:
    finding = evaluate(server(**limit(0)), ctx())
    assert finding.status is Status.PASS
    assert "no private memory limit" in finding.summary


def test_the_wsus_default_fails_with_the_fix() -> None:
    finding = evaluate(server(**limit(1_843_200)), ctx())
    assert_problem(finding, Status.FAIL, FIX)
    assert "1,843,200 KB" in finding.summary
    assert "503" in finding.summary


@pytest.mark.parametrize(("kb", "status"), [(1_000_000, Status.FAIL), (4_000_000, Status.WARN)])
def test_low_limits(kb: int, status: Status) -> None:
    assert_problem(evaluate(server(**limit(kb)), ctx()), status, FIX)


def test_four_times_the_default_passes() -> None:
    assert evaluate(server(**limit(7_372_800)), ctx()).status is Status.PASS


def test_pool_state_is_evidence_not_a_verdict() -> None:
    # one owner: server.services reports a stopped WsusPool
    finding = evaluate(server(**limit(0, "Stopped")), ctx())
    assert finding.status is Status.PASS
    assert any("Stopped (judged by server.services)" in line for line in finding.evidence)


def test_skips() -> None:
    assert evaluate(server(**{"iis.version": "6.0"}), ctx()).status is Status.SKIP
    assert evaluate(server(**{"wsus.installed": False}), ctx()).status is Status.SKIP
    no_pool = server(**{"iis.app_pools": [{"name": "DefaultAppPool", "state": "Started"}]})
    assert evaluate(no_pool, ctx()).status is Status.SKIP


def test_unknown_when_not_reported() -> None:
    assert_unknown(evaluate(server(**limit(None)), ctx()), "private_memory_kb")
    assert_unknown(evaluate(server(**{"iis.app_pools": None}), ctx()), "app_pools")
