"""A bot killed mid-wave (a ``wsusbot serve`` subprocess, SIGKILL): no host is fixed
twice, a host whose step had started is never run again (its outcome is unknown), and the
remaining hosts wait until an approver confirms — never a silent resume."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from pathlib import Path

from bot.config import load_settings
from bot.services import Services
from bot.store.batches import BatchState, BatchStore, StepState
from bot.store.db import Database
from lab.estate import Estate
from lab.slack import LocalSlack
from tests.integration.slack_support import CHANNEL, blocks_text, buttons, lab_sections, slack_lab
from tests.integration.test_processes import WSUSBOT, Lines

OPER, APPR = "U0OPER", "U0APPR"
FIX, PROBE = "client.restart_wuauserv", "fix_restart_wuauserv"
CLIENTS = ["xp01", *(f"wu{i:03d}" for i in range(1, 21))]


def check_all(config: Path) -> None:
    services = Services.open(load_settings(config, env={}))

    async def run() -> None:
        async with services.runner() as runner:
            targets = [services.inventory.resolve(h) for h in CLIENTS]
            await asyncio.gather(*(runner.check(t, OPER) for t in targets))

    try:
        asyncio.run(run())
    finally:
        services.close()


def card(slack: LocalSlack, *states: str, timeout: float = 30) -> object:
    def find() -> object:
        for message in slack.messages(CHANNEL):
            if message.text.startswith(f"batch {FIX} ") and any(
                message.text.endswith(f": {state}") for state in states
            ):
                return message
        return None

    return slack.wait_for(find, timeout=timeout, description=f"batch card {'/'.join(states)}")


def runs(estate: Estate) -> dict[str, int]:
    return {h: estate.host(h).probe_counts().get(PROBE, 0) for h in CLIENTS}


def test_a_bot_killed_mid_wave_fixes_no_host_twice_and_waits(tmp_path: Path) -> None:
    estate = Estate.start("wuauserv_stopped+20", workdir=tmp_path / "lab")
    slack = LocalSlack().start()
    serve = None
    try:
        extra = lab_sections(
            slack,
            estate.workdir,
            batch__wave_size=10,
            batch__concurrency=10,
            batch__pause_between_waves_s=0,
            batch__failure_threshold=5,
        )
        config = estate.write_config(tmp_path / "wsusbot.toml", extra)
        check_all(config)
        serve = subprocess.Popen(
            [*WSUSBOT, "-c", str(config), "serve", "--health-port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        Lines(serve).wait_for("wsusbot serving")
        slack.wait_for_socket(30)
        slack.type_command(OPER, CHANNEL, "/wsus", f"fix {FIX} group lab").wait_ack(10)
        requested = card(slack, "requested")
        # wave 1's hosts answer slowly: the bot is killed while they are mid-step
        for host in CLIENTS[1:11]:
            estate.set_faults(host, latency_ms=1500)
        slack.click_button(APPR, CHANNEL, requested.ts, "batch_approve").wait_ack(10)  # type: ignore[attr-defined]
        db = Database(load_settings(config, env={}).store.url)
        store = BatchStore(db)
        batch_id = store.in_states(*BatchState)[0].id

        def mid_wave() -> bool:
            states = [s.state for s in store.steps(batch_id) if s.wave == 1]
            return StepState.STARTED in states

        deadline = time.monotonic() + 60
        while not mid_wave():
            assert time.monotonic() < deadline, "wave 1 never started"
            time.sleep(0.05)
        serve.send_signal(signal.SIGKILL)
        serve.wait(10)
        assert serve.stdout is not None
        serve.stdout.close()
        serve = None
        started = [s.host for s in store.steps(batch_id) if s.state is StepState.STARTED]
        assert started
        for host in CLIENTS[1:11]:
            estate.set_faults(host, latency_ms=0)
        killed_at = runs(estate)
        assert max(killed_at.values()) <= 1
        (tmp_path / "again").mkdir()
        with slack_lab(
            "wuauserv_stopped+20", tmp_path / "again", estate=estate, slack=slack
        ) as again:
            waiting = card(slack, "awaiting_confirmation")
            assert {b["action_id"] for b in buttons(waiting)} == {"batch_resume", "batch_abort"}
            again.drain()
            time.sleep(2)
            # nothing ran on its own after the restart
            assert runs(estate) == killed_at
            steps = {s.host: s for s in store.steps(batch_id)}
            assert all(steps[h].state is StepState.UNVERIFIED for h in started)
            thread = " ".join(
                m.text
                for m in slack.messages(CHANNEL, thread_ts=requested.ts)  # type: ignore[attr-defined]
            )
            assert "Confirm and resume" in thread
            assert "not re-run" in thread
            slack.click_button(APPR, CHANNEL, waiting.ts, "batch_resume").wait_ack(10)  # type: ignore[attr-defined]
            # the steps left unverified by the kill may halt the batch at its threshold; it
            # ends either way, and no host ever ran twice
            done = card(slack, "completed", "halted", timeout=90)
            again.drain()
            final = runs(estate)
            assert max(final.values()) <= 1
            if done.text.endswith(": completed"):  # type: ignore[attr-defined]
                assert all(final[h] == 1 for h in CLIENTS if h not in started)
            # a host whose step had started is never run again
            assert all(final[h] == killed_at[h] for h in started)
            assert "unverified" in blocks_text(done.blocks)  # type: ignore[attr-defined]
        db.dispose()
    finally:
        if serve is not None:
            serve.kill()
            serve.wait(10)
            if serve.stdout is not None:
                serve.stdout.close()
        slack.stop()
        estate.stop()
