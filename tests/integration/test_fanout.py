"""Fan-out to many lab hosts at once: every host is checked, none is misreported.

requests' ``should_bypass_proxies`` writes ``os.environ["no_proxy"]`` around a lookup and
puts it back without a lock (psf/requests#4997); pywinrm with ``proxy=None`` reaches it on
every request, so under fan-out one thread deletes the key another restores: a
``KeyError: 'no_proxy'`` that wsusbot reported as that host's "bad output" (a wrong
verdict), or a ``no_proxy`` left set for the whole process. The WinRM client now uses
sessions that never consult the environment.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests.utils

from checks.model import Status
from handlers.winrm import WinrmClient, WinrmSettings
from lab.scenarios import with_clients
from tests.integration.lab_support import check_hosts, lab_services
from tests.integration.slack_support import slack_lab

CLIENTS = 60
VIEWER = "U0VIEWER"
CONCURRENCY = 32


@pytest.mark.parametrize(
    "environment",
    [
        pytest.param({"NO_PROXY": "localhost,127.0.0.1"}, id="NO_PROXY only"),
        pytest.param({"no_proxy": "localhost", "NO_PROXY": "localhost"}, id="no_proxy too"),
    ],
)
def test_every_host_of_a_wide_fan_out_is_checked(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    environment: dict[str, str],
) -> None:
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    before = dict(os.environ)
    extra: dict[str, Any] = {"runner": {"concurrency": CONCURRENCY, "host_deadline_s": 60}}
    # switch threads far more often than every 5 ms: the race needs a switch inside the
    # few lines of requests between editing os.environ and putting it back
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        with lab_services(with_clients("healthy", CLIENTS), tmp_path, extra=extra) as (
            estate,
            services,
            _,
        ):
            reports = check_hosts(services)
            assert len(reports) == CLIENTS + 1 == len(estate.hosts)
            for name in (f"c{i:04d}" for i in range(CLIENTS)):
                stats = estate.wsman(name).stats()
                # one shell, one command, deleted; no Signal before the Delete (the
                # Delete ends the shell and its commands, [MS-WSMV] 3.1.4.4.1)
                assert stats.shells_created == stats.commands_run == 1, name
                assert stats.open_shells == 0, name
                assert "signal" not in {a.lower() for a in stats.requests_by_action}, name
    finally:
        sys.setswitchinterval(interval)
    wrong = {
        host: report.unreachable_reason or report.problem_line
        for host, report in reports.items()
        if report.verdict is not Status.PASS
    }
    assert not wrong, wrong
    # nothing was left behind in (or taken out of) the process environment
    assert dict(os.environ) == before


def test_winrm_never_reaches_the_environment_editing_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deterministic: not one call into requests' proxy-bypass code, which is what edits
    os.environ (the fan-out test above can only make the race likely)."""
    calls: list[str] = []
    real = requests.utils.should_bypass_proxies

    def spy(url: str, no_proxy: str | None) -> bool:
        calls.append(url)
        return real(url, no_proxy=no_proxy)

    monkeypatch.setattr(requests.utils, "should_bypass_proxies", spy)
    monkeypatch.setenv("NO_PROXY", "localhost")
    # proxies in the environment must not see WinRM traffic either
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    with lab_services("healthy", tmp_path) as (_estate, services, _):
        target = services.inventory.resolve("xp01")
        password = services.password_for(target)
        client = WinrmClient(WinrmSettings(operation_timeout_s=5, read_timeout_s=10))
        results: list[int] = []
        errors: list[BaseException] = []

        def run() -> None:
            try:
                result = client.run(target, password, "exit 0", deadline=time.monotonic() + 30)
                results.append(result.exit_code)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    assert not errors, errors
    assert len(results) == 8
    assert calls == []


@pytest.mark.parametrize("mode", ["socket", "http"])
def test_a_burst_of_commands_is_acked_before_any_database_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """Every /wsus check is acked while the dedupe claim in the database is held back;
    once it is released each command runs exactly one check, a Slack retry none."""
    with slack_lab("healthy", tmp_path, mode=mode) as running:  # type: ignore[arg-type]
        assert running.runtime.ctx is not None
        services = running.runtime.ctx.services
        gate = threading.Event()
        claims: list[str] = []
        real_claim = services.markers.claim

        def held_claim(key: str, *args: Any, **kwargs: Any) -> bool:
            claims.append(key)
            gate.wait(60)
            return bool(real_claim(key, *args, **kwargs))

        monkeypatch.setattr(services.markers, "claim", held_claim)
        hosts = ["wsus01", "xp01", "srv03", "win10"] * 3
        deliveries = [running.command(VIEWER, f"check {h}", mode=mode) for h in hosts]
        acks = [d.wait_ack(10) for d in deliveries]
        retry = running.slack.redeliver(deliveries[0])
        retry.wait_attempts(2, 10)
        running.slack.wait_for(lambda: len(retry.acks) >= 2 or None, timeout=10)
        # acked, with no reply in the ack (the check answers in the channel), while not one
        # claim has been let through
        assert all(not (a.payload or {}).get("text") for a in acks)
        if mode == "http":
            assert {a.http_status for a in acks} == {200}
        assert not gate.is_set()
        assert services.runs.count() == 0
        gate.set()
        running.slack.wait_for(
            lambda: (
                sum(1 for m in running.bot_messages() if ": PASS" in m.text) == len(hosts) or None
            ),
            timeout=90,
            description="every verdict",
        )
        running.drain()
        assert len(claims) == len(hosts) + 1
        assert services.runs.count() == len(hosts)
        assert len([m for m in running.bot_messages() if "checking" in m.text]) == 0
