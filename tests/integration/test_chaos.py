"""Nothing lost when things break mid-flight: the bot killed with 50 checks in flight,
Socket Mode dropped in the middle of a fix, PostgreSQL restarted under checks and a fix."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.slack_support import (
    CHANNEL,
    blocks_text,
    buttons,
    click,
    fix_runs,
    slack_lab,
)
from tests.integration.test_processes import WSUSBOT, Lines, _stop
from tests.integration.test_slack_fixes import APPR, card, request

VERDICT_PREFIXES = (": PASS", ": FAIL", ": WARN", ": UNKNOWN")


def _messages(control: str) -> list[dict[str, Any]]:
    reply = httpx.get(f"{control}messages", params={"channel": CHANNEL}, timeout=10)
    return list(reply.json()["messages"])


def _serve(config: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [*WSUSBOT, "-c", str(config), "serve", "--health-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    Lines(process).wait_for("wsusbot serving")
    return process


def test_killed_with_fifty_checks_in_flight_leaves_none_hanging(tmp_path: Path) -> None:
    config = tmp_path / "lab.toml"
    env = {**os.environ, "COLUMNS": "200"}
    lab = subprocess.Popen(
        [
            *WSUSBOT,
            "lab",
            "up",
            "--scenario",
            "healthy",
            "--latency-ms",
            "400",
            "--write-config",
            str(config),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    serve: subprocess.Popen[str] | None = None
    try:
        Lines(lab).wait_for("lab ready")
        settings = tomllib.loads(config.read_text())
        hosts = [s["name"] for s in settings.get("servers", [])] + [
            c["name"] for c in settings.get("clients", [])
        ]
        control = settings["slack"]["api_url"].replace("/api/", "/_lab/")
        serve = _serve(config, env)
        for index in range(50):
            typed = httpx.post(
                f"{control}command",
                json={
                    "user": "U0VIEWER",
                    "channel": CHANNEL,
                    "command": "/wsus",
                    "text": f"check {hosts[index % len(hosts)]}",
                },
                timeout=10,
            )
            assert typed.status_code == 200
        # every command has its "checking…" message, and most are still running
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            top = [m for m in _messages(control) if not m.get("thread_ts")]
            if len(top) >= 50:
                break
            time.sleep(0.05)
        assert len(top) >= 50
        assert any(m["text"].startswith("checking") for m in top), "nothing was in flight"
        serve.send_signal(signal.SIGKILL)
        serve.wait(10)
        serve.stdout.close()  # type: ignore[union-attr]
        serve = _serve(config, env)
        deadline = time.monotonic() + 60
        hanging: list[str] = []
        while time.monotonic() < deadline:
            top = [m for m in _messages(control) if not m.get("thread_ts")]
            hanging = [m["ts"] for m in top if m["text"].startswith("checking")]
            if not hanging:
                break
            time.sleep(0.2)
        assert hanging == [], f"{len(hanging)} checks still say 'checking…'"
        answered = [
            m
            for m in top
            if any(p in m["text"] for p in VERDICT_PREFIXES) or "interrupted" in m["text"]
        ]
        assert len(answered) == len(top) == 50
        assert any("interrupted" in m["text"] for m in top)
        assert _stop(serve) == 0
        serve = None
    finally:
        if serve is not None:
            _stop(serve)
        _stop(lab)


def test_socket_mode_dropped_mid_fix_completes_the_fix_once(tmp_path: Path) -> None:
    with slack_lab("wuauserv_stopped", tmp_path) as lab:
        requested = request(lab, "xp01", "client.restart_wuauserv")
        # a slow host: the fix is still running when the connection drops
        lab.estate.set_faults("xp01", latency_ms=300)
        click(lab, APPR, requested, "approval_approve").wait_ack(5)
        card(lab, requested.thread_ts, "client.restart_wuauserv", "running")
        lab.slack.disconnect_socket()
        done = card(lab, requested.thread_ts, "client.restart_wuauserv", "succeeded", timeout=60)
        assert "fixed" in blocks_text(done.blocks)
        assert not buttons(done)
        lab.drain()
        assert fix_runs(lab, "xp01", "fix_restart_wuauserv") == 1
        # the connection came back: a new command is answered
        lab.slack.wait_for_socket(10)
        delivery = lab.command("U0VIEWER", "check xp01")
        assert delivery.wait_ack(10).latency < 3.0


# ---------------------------------------------------------------- PostgreSQL restarted


@dataclass
class PrivatePostgres:
    """A PostgreSQL cluster of the test's own (initdb in a temporary folder, a free port),
    so it can be restarted without touching the machine's shared server."""

    data: Path
    port: int
    bin: Path

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        _as_postgres(
            [
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.data / "server.log"),
                "-w",
                "-t",
                "60",
                *args,
            ]
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._ctl("-o", options, "start")

    def restart(self, down_for: float = 0.0) -> None:
        """Stop (fast: connections are cut), stay down ``down_for`` seconds, start again."""
        self._ctl("-m", "fast", "stop")
        time.sleep(down_for)
        self.start()

    def stop(self) -> None:
        self._ctl("-m", "immediate", "stop")


def _as_postgres(command: list[str]) -> None:
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, check=True, capture_output=True, timeout=120)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not bins:
        pytest.skip("no PostgreSQL server binaries (initdb) on this machine")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root without a postgres user for initdb")
    folder = Path(tempfile.mkdtemp(prefix="wsusbot-pg-"))
    data = folder / "data"
    data.mkdir()
    if os.geteuid() == 0:
        for path in (folder, data):
            shutil.chown(path, "postgres", "postgres")
    server = PrivatePostgres(data, _free_port(), bins[-1].parent)
    _as_postgres([str(server.bin / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"])
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def test_postgres_restarted_mid_flight_loses_nothing(
    tmp_path: Path, private_postgres: PrivatePostgres
) -> None:
    """Checks and a fix in flight while the database restarts: the bot reconnects, every
    check gets its verdict once, the fix runs once and ends succeeded, every audit row is
    there."""
    with slack_lab("wuauserv_stopped", tmp_path, database_url=private_postgres.url) as lab:
        requested = request(lab, "xp01", "client.restart_wuauserv")
        lab.estate.set_faults("xp01", latency_ms=250)
        lab.estate.set_faults("wsus01", latency_ms=250)
        click(lab, APPR, requested, "approval_approve").wait_ack(5)
        hosts = ["wsus01", "xp01"] * 3
        for host in hosts:
            assert lab.command("U0VIEWER", f"check {host}").wait_ack(5).latency < 3.0
        assert lab.command("U0VIEWER", "digest").wait_ack(5).latency < 3.0
        # down while the checks, the fix and the digest are on their way to the database
        private_postgres.restart(down_for=2.0)
        done = card(lab, requested.thread_ts, "client.restart_wuauserv", "succeeded", timeout=90)
        assert not buttons(done)

        def answered() -> list[Any] | None:
            top = [m for m in lab.bot_messages() if not m.thread_ts]
            assert lab.runtime.ctx is not None
            if not lab.runtime.ctx.services.audit.query(action="digest_posted"):
                return None
            verdicts = [m for m in top if any(p in m.text for p in VERDICT_PREFIXES)]
            waiting = [m for m in top if m.text.startswith("checking")]
            return verdicts if not waiting and len(verdicts) >= len(hosts) + 1 else None

        verdicts = lab.slack.wait_for(answered, timeout=90, description="every verdict")
        # the fix request's own check plus the six typed: each answered exactly once
        assert len(verdicts) == len(hosts) + 1
        assert not any("interrupted" in m.text for m in lab.bot_messages())
        lab.drain()
        assert fix_runs(lab, "xp01", "fix_restart_wuauserv") == 1
        assert lab.runtime.ctx is not None
        audit = [r.action for r in lab.runtime.ctx.services.audit.query()]
        for action in ("fix_requested", "fix_approved", "fix_started", "fix_succeeded"):
            assert audit.count(action) == 1, action
        assert audit.count("check") >= len(hosts) + 1
        # the digest once: one message, one audit row
        digests = [
            m
            for m in lab.bot_messages()
            if not m.thread_ts and (m.text.startswith("WSUS digest") or "self-updating" in m.text)
        ]
        # posted once, or (a healthy estate, post_when_healthy off) recorded as quiet once
        assert len(digests) <= 1
        assert audit.count("digest_posted") == 1
        assert lab.runtime.ctx.services.runs.count() >= len(hosts) + 1
