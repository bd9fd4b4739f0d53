"""The README's by-hand flow, as separate processes: `wsusbot lab up` in one, `wsusbot
serve` in another, a command typed through the local Slack's control API, SIGTERM to stop."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path
from typing import Any

import httpx

WSUSBOT = [sys.executable, "-c", "from bot.cli import entry; entry()"]


class Lines:
    """A process's output read by a thread, so waiting for a line can time out."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._seen: list[str] = []
        assert process.stdout is not None
        stream = process.stdout
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: Any) -> None:
        for line in stream:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, text: str, timeout: float = 60) -> str:
        end = time.monotonic() + timeout
        while (left := end - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self._seen.append(line)
            if text in line:
                return "".join(self._seen)
        raise AssertionError(f"{text!r} never printed; output so far:\n{''.join(self._seen)}")


def _stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def test_lab_up_and_serve_answer_a_command_typed_by_hand(tmp_path: Path) -> None:
    config = tmp_path / "lab.toml"
    env = {**os.environ, "COLUMNS": "200"}
    lab = subprocess.Popen(
        [*WSUSBOT, "lab", "up", "--scenario", "healthy", "--write-config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    serve = None
    try:
        table = Lines(lab).wait_for("lab ready")
        assert "wsus01" in table
        assert "LAB\\wsusbot" in table
        serve = subprocess.Popen(
            [*WSUSBOT, "-c", str(config), "serve", "--health-port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        Lines(serve).wait_for("wsusbot serving")
        api = tomllib.loads(config.read_text())["slack"]["api_url"]
        control = api.replace("/api/", "/_lab/")
        typed = httpx.post(
            f"{control}command",
            json={
                "user": "U0VIEWER",
                "channel": "C0WSUS",
                "command": "/wsus",
                "text": "check wsus01",
            },
            timeout=10,
        )
        assert typed.status_code == 200
        deadline = time.monotonic() + 60
        verdict = None
        while time.monotonic() < deadline and verdict is None:
            messages = httpx.get(
                f"{control}messages", params={"channel": "C0WSUS"}, timeout=10
            ).json()["messages"]
            verdict = next((m for m in messages if m["text"].startswith("wsus01: PASS")), None)
            time.sleep(0.2)
        assert verdict is not None, json.dumps(messages)[:2000]
        assert _stop(serve) == 0
        serve = None
    finally:
        if serve is not None:
            _stop(serve)
        code = _stop(lab)
    assert code == 0
