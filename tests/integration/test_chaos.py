"""Nothing lost when things break mid-flight: the bot killed with 50 checks in flight,
and Socket Mode dropped in the middle of a fix."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import tomllib
from pathlib import Path
from typing import Any

import httpx

from tests.integration.slack_support import CHANNEL, blocks_text, buttons, slack_lab
from tests.integration.test_processes import WSUSBOT, Lines, _stop
from tests.integration.test_slack_fixes import APPR, card, click, fix_runs, request

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
