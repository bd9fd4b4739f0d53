"""A server's check runs in one WinRM shell; when the runner's deadline cancels it, the
shell is closed only after the thread using it is done with it (never under it), and a
shell whose log-on finished after the cancellation is still closed."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from checks.facts import HttpResult
from checks.secret import Secret
from handlers.collector import LiveCollector
from handlers.target import HostTarget
from handlers.winrm import ScriptResult


class Events:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list[str] = []

    def add(self, event: str) -> None:
        with self.lock:
            self.seen.append(event)


class SlowShell:
    def __init__(self, events: Events, run_s: float) -> None:
        self.events = events
        self.run_s = run_s

    def run(self, script: str, deadline: float) -> ScriptResult:
        self.events.add("run started")
        time.sleep(self.run_s)
        self.events.add("run ended")
        return ScriptResult(b"{}", b"", 0)

    def close(self) -> None:
        self.events.add("closed")


class SlowWinrm:
    def __init__(self, events: Events, *, log_on_s: float = 0.0, run_s: float = 0.0) -> None:
        self.events = events
        self.log_on_s = log_on_s
        self.run_s = run_s

    def session(self, target: HostTarget, password: Secret | None, *, deadline: float) -> Opened:
        return Opened(self)


class Opened:
    """A session's context manager that closes only when exited (no generator a garbage
    collector could close behind the test's back)."""

    def __init__(self, winrm: SlowWinrm) -> None:
        self.winrm = winrm
        self.shell = SlowShell(winrm.events, winrm.run_s)

    def __enter__(self) -> SlowShell:
        time.sleep(self.winrm.log_on_s)
        self.winrm.events.add("logged on")
        return self.shell

    def __exit__(self, *_exc: object) -> None:
        self.shell.close()


class NoHttp:
    async def fetch_all(self, urls: Sequence[str]) -> list[HttpResult]:
        await asyncio.sleep(10)  # cancelled with the check
        return []


def server() -> HostTarget:
    return HostTarget(
        name="wsus01",
        role="server",
        address="127.0.0.11",
        winrm_url="http://127.0.0.11:5985/wsman",
        transport="ntlm",
        username="wsusbot",
        password_file=Path("/nonexistent"),
        verify_tls=True,
        ca_bundle=None,
        wsus_url="http://127.0.0.11:8530",
    )


def cancelled_collect(winrm: SlowWinrm) -> None:
    with ThreadPoolExecutor(4) as pool:
        collector = LiveCollector(winrm, NoHttp(), lambda _t: None, executor=pool)  # type: ignore[arg-type]

        async def go() -> None:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(collector.collect(server(), time.monotonic() + 30), 0.05)

        asyncio.run(go())


def test_a_cancelled_check_closes_the_shell_after_the_running_script() -> None:
    events = Events()
    cancelled_collect(SlowWinrm(events, run_s=0.3))
    assert events.seen == ["logged on", "run started", "run ended", "closed"]


def test_a_log_on_that_finishes_after_the_cancellation_is_closed() -> None:
    events = Events()
    cancelled_collect(SlowWinrm(events, log_on_s=0.3))
    assert events.seen == ["logged on", "closed"]
