"""Runner semantics with an in-process collector (the WinRM boundary is tested against the
lab in tests/integration): deadlines, error reasons, history, isolation of slow hosts."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from checks.errors import AuthenticationFailedError
from checks.facts import HostFacts, dump, read_host_facts
from checks.model import Status
from checks.platforms import declared_windows_2000
from checks.registry import default_registry
from checks.report import Report
from handlers.runner import Runner, facts_for_history
from handlers.target import HostTarget

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOW = datetime(2026, 11, 25, 8, tzinfo=UTC)


def target(name: str) -> HostTarget:
    return HostTarget(
        name=name,
        role="client",
        address=name,
        winrm_url=f"http://{name}/wsman",
        transport="ntlm",
        username="u",
        password_file=None,
        verify_tls=True,
        ca_bundle=None,
        wsus_url="http://wsus01:8530",
    )


class FakeCollector:
    def __init__(self) -> None:
        self.healthy = read_host_facts((EXAMPLES / "client-healthy.json").read_bytes())

    async def collect(self, host: HostTarget, deadline: float) -> HostFacts:
        if host.name == "hang":
            await asyncio.sleep(60)
        if host.name == "denied":
            raise AuthenticationFailedError("denied: WinRM rejected the credentials (HTTP 401)")
        return self.healthy


class MemoryHistory:
    def __init__(self) -> None:
        self.rows: list[tuple[Report, dict[str, Any] | None, str]] = []

    def previous_facts(self, host: str) -> dict[str, Any] | None:
        for report, facts, _ in reversed(self.rows):
            if report.host == host and facts is not None:
                return facts
        return None

    def record(self, report: Report, facts: dict[str, Any] | None, requested_by: str) -> int:
        self.rows.append((report, facts, requested_by))
        return len(self.rows)


def test_fleet_isolation_deadline_and_reasons() -> None:
    history = MemoryHistory()
    runner = Runner(
        default_registry(),
        FakeCollector(),
        history,
        clock=lambda: NOW,
        concurrency=4,
        host_deadline_s=0.5,
    )
    finished: list[str] = []

    async def go() -> list[Report]:
        outcomes = await runner.check_many(
            [target("hang"), target("ok1"), target("denied"), target("ok2")],
            "U1",
            on_done=lambda o: finished.append(o.report.host),
        )
        return [o.report for o in outcomes]

    started = time.monotonic()
    reports = {r.host: r for r in asyncio.run(go())}
    assert time.monotonic() - started < 5
    # the hanging host finishes last: it never held the others back
    assert finished[-1] == "hang"
    assert reports["hang"].unreachable_reason == "timeout"
    assert reports["hang"].exit_code == 3
    assert {f.status for f in reports["hang"].findings} == {Status.UNKNOWN}
    assert reports["denied"].unreachable_reason == "auth_failed"
    assert "rejected the credentials" in reports["denied"].findings[0].evidence[0]
    assert reports["ok1"].verdict is Status.PASS
    assert len(history.rows) == 4
    assert [r[2] for r in history.rows] == ["U1"] * 4


def test_previous_facts_reach_the_context() -> None:
    history = MemoryHistory()
    collector = FakeCollector()
    runner = Runner(default_registry(), collector, history, clock=lambda: NOW)
    stalled = json.loads((EXAMPLES / "client-healthy.json").read_text())
    stalled["au"]["LastWaitTimeout"] = "2026.11.24 09.00.00"
    history.record(Report("ok1", "client", (), started_at=NOW, finished_at=NOW), stalled, "x")
    # now the current LastWaitTimeout (25th 09:30) is >= 24 h after the previous one
    outcome = asyncio.run(runner.check(target("ok1"), "U1"))
    statuses = {f.check: f.status for f in outcome.report.findings}
    assert statuses["client.detection_stalled"] is Status.FAIL


def test_history_is_read_only_for_roles_whose_checks_use_it() -> None:
    class CountingHistory(MemoryHistory):
        def __init__(self) -> None:
            super().__init__()
            self.reads: list[str] = []

        def previous_facts(self, host: str) -> dict[str, Any] | None:
            self.reads.append(host)
            return super().previous_facts(host)

    class MixedCollector(FakeCollector):
        def __init__(self) -> None:
            super().__init__()
            self.server = read_host_facts((EXAMPLES / "server-broken.json").read_bytes())

        async def collect(self, host: HostTarget, deadline: float) -> HostFacts:
            return self.server if host.name == "srv" else self.healthy

    history = CountingHistory()
    runner = Runner(default_registry(), MixedCollector(), history, clock=lambda: NOW)
    asyncio.run(runner.check_many([target("srv"), target("pc1")], "U1"))
    # only client.detection_stalled reads ctx.previous: a server's megabytes are never loaded
    assert history.reads == ["pc1"]


def test_a_declared_windows_2000_host_is_never_contacted() -> None:
    """It cannot run WinRM: unknown with that reason and the by-hand steps, no collection."""

    class CountingCollector(FakeCollector):
        calls = 0

        async def collect(self, host: HostTarget, deadline: float) -> HostFacts:
            CountingCollector.calls += 1
            return await super().collect(host, deadline)

    runner = Runner(default_registry(), CountingCollector(), None, clock=lambda: NOW)
    old = dataclasses.replace(target("nt5"), os="Windows 2000 Professional")
    outcome = asyncio.run(runner.check(old, "U1"))
    report = outcome.report
    assert CountingCollector.calls == 0
    assert report.unreachable_reason == "unsupported_os"
    assert all(f.status is Status.UNKNOWN for f in report.findings)
    first = report.findings[0]
    assert "Windows 2000 cannot run WinRM" in first.evidence[0]
    assert first.next_step is not None
    assert "by hand" in first.next_step


@pytest.mark.parametrize(
    ("declared", "is_2000"),
    [
        ("Windows 2000", True),
        ("windows 2000 server sp4", True),
        ("W2K", True),
        ("5.0.2195", True),
        ("Microsoft Windows 2000 Advanced Server", True),
        ("Windows XP", False),
        ("Windows Server 2003", False),
        ("5.1.2600", False),
        ("Windows 2000s lab", False),
        (None, False),
    ],
)
def test_windows_2000_is_recognised_in_the_inventory(declared: str | None, is_2000: bool) -> None:
    assert declared_windows_2000(declared) is is_2000


def test_history_keeps_a_servers_facts_without_its_computer_list() -> None:
    """A 250,000-computer inventory is tens of MB; the run keeps its count, not the list."""
    raw = json.loads((EXAMPLES / "server-broken.json").read_text(encoding="utf-8"))
    computers = [{"name": f"pc{i}", "last_sync_time": "2026-11-24T08:00:00Z"} for i in range(500)]
    raw["wsus_computers"] = {"schema": "wsusbot.wsus_computers/1", "computers": computers}
    facts = read_host_facts(json.dumps(raw).encode())
    kept = facts_for_history(facts)
    assert kept["wsus_computers"]["computers"] is None
    assert kept["wsus_computers"]["total"] == 500
    assert "500 computers not kept in history" in json.dumps(kept["wsus_computers"]["errors"])
    # the server's configuration is kept whole: fix cards read it back
    assert kept["iis"] == dump(facts)["iis"]
    assert kept["wsus"] == dump(facts)["wsus"]
    # and it still reads back as facts
    assert read_host_facts(json.dumps(kept).encode()).wsus_computers is not None


def test_check_many_runs_in_one_fleet_round_and_single_checks_outside_it() -> None:
    from collections.abc import AsyncIterator
    from contextlib import asynccontextmanager

    events: list[str] = []

    @asynccontextmanager
    async def fleet_round() -> AsyncIterator[None]:
        events.append("enter")
        yield
        events.append("exit")

    class RecordingCollector(FakeCollector):
        async def collect(self, host: HostTarget, deadline: float) -> HostFacts:
            events.append(host.name)
            return await super().collect(host, deadline)

    runner = Runner(
        default_registry(),
        RecordingCollector(),
        None,
        clock=lambda: NOW,
        concurrency=2,
        fleet_round=fleet_round,
    )

    async def go() -> None:
        await runner.check_many([target("a"), target("b"), target("c")], "test")
        await runner.check(target("d"), "test")

    asyncio.run(go())
    assert events[0] == "enter"
    assert sorted(events[1:4]) == ["a", "b", "c"]
    assert events[4:] == ["exit", "d"]


def test_a_fresh_check_collects_inside_the_fresh_probe_scope() -> None:
    import contextvars
    from collections.abc import Iterator
    from contextlib import contextmanager

    fresh = contextvars.ContextVar("fresh", default=False)
    seen: dict[str, bool] = {}

    @contextmanager
    def fresh_probes() -> Iterator[None]:
        token = fresh.set(True)
        try:
            yield
        finally:
            fresh.reset(token)

    class RecordingCollector(FakeCollector):
        async def collect(self, host: HostTarget, deadline: float) -> HostFacts:
            seen[host.name] = fresh.get()
            return await super().collect(host, deadline)

    runner = Runner(
        default_registry(), RecordingCollector(), None, clock=lambda: NOW, fresh_probes=fresh_probes
    )

    async def go() -> None:
        await runner.check(target("plain"), "test")
        await runner.check(target("after-fix"), "test", fresh=True)

    asyncio.run(go())
    assert seen == {"plain": False, "after-fix": True}


def test_check_many_can_drop_the_facts_once_recorded() -> None:
    history = MemoryHistory()
    runner = Runner(default_registry(), FakeCollector(), history, clock=lambda: NOW)
    outcomes = asyncio.run(runner.check_many([target("a"), target("b")], "t", keep_facts=False))
    assert [o.facts for o in outcomes] == [None, None]
    assert [o.report.verdict for o in outcomes] == [Status.PASS, Status.PASS]
    # recorded with their facts all the same
    assert all(facts is not None for _, facts, _ in history.rows)
