"""Issue 15: fixes through a site worker are at most once. An approved fix runs on the
worker; a worker killed mid-fix is never followed by a second run (early ack, no retry,
the worker's ledger); a fix task queued while the broker restarts runs once, and a
duplicate of it never."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import BrokerConfig, load_settings
from bot.sites.app import FIX_TASK, PROTOCOL, make_app, queue_name
from bot.sites.ledger import FixLedger
from bot.sites.routing import SiteClient
from bot.store.approvals import ApprovalStore, State
from bot.usecases.approvals import execute
from checks.errors import CollectionError
from lab.estate import Estate, dumps_toml
from tests.integration.sites_support import (
    broker_section,
    new_prefix,
    rabbitmq_vhost,
    site_workers,
)
from tests.integration.slack_support import blocks_text, click, fix_runs, slack_lab
from tests.integration.test_slack_fixes import APPR, card, request

#: real worker processes start in 5-20 s each (their imports) and a fix proof waits out a
#: deadline: far past the suite's 120 s default on a loaded 2-core machine
pytestmark = pytest.mark.timeout(900)

FIX = "client.restart_wuauserv"
PROBE = "fix_restart_wuauserv"


@pytest.fixture(scope="module", autouse=True)
def vhost() -> None:
    rabbitmq_vhost()


def sited(prefix: str, url: str | None = None) -> dict[str, Any]:
    """slack_lab overrides: every lab host (group "lab") is in site north."""
    section = broker_section(prefix, **({"url": url} if url else {}))
    return {
        f"broker__{key}": value
        for key, value in {**section, "group_sites": {"lab": "north"}}.items()
    }


def wait_until(what: str, probe: Any, timeout: float = 60.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = probe()
        if got:
            return got
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def the_approval(lab: Any) -> str:
    assert lab.runtime.ctx is not None
    store = ApprovalStore(lab.runtime.ctx.services.db)
    [approval] = [a for s in State for a in store.in_states(s)]
    return str(approval.id)


def test_an_approved_fix_runs_once_on_the_site_worker(tmp_path: Path) -> None:
    prefix = new_prefix()
    with (
        slack_lab("wuauserv_stopped", tmp_path, **sited(prefix)) as lab,
        site_workers(broker_section(prefix), tmp_path / "workers") as workers,
    ):
        worker = workers.start(lab.config, "north")
        requested = request(lab, "xp01", FIX)
        click(lab, APPR, requested, "approval_approve").wait_ack(5)
        done = card(lab, requested.thread_ts, FIX, "succeeded", timeout=90)
        text = blocks_text(done.blocks)
        assert "*Before*" in text
        assert "*After*" in text
        assert "client.services: pass" in text
        assert fix_runs(lab, "xp01", PROBE) == 1
        [claim] = FixLedger(worker.state_dir / "fix-ledger.sqlite").claims()
        assert (claim.key, claim.host, claim.fix) == (the_approval(lab), "xp01", FIX)
        assert claim.answer is not None
        assert claim.answer["ok"] is True


def test_a_worker_killed_mid_fix_never_runs_it_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the bot waits this long for the fix's answer (the task expires then, too)
    monkeypatch.setattr(execute, "FIX_DEADLINE_S", 30.0)
    prefix = new_prefix()
    with (
        slack_lab("wuauserv_stopped", tmp_path, **sited(prefix)) as lab,
        site_workers(broker_section(prefix), tmp_path / "workers") as workers,
    ):
        worker = workers.start(lab.config, "north")
        requested = request(lab, "xp01", FIX)
        # every WS-Management request now takes 2 s: the fix is on the wire for seconds
        lab.estate.set_faults("xp01", latency_ms=2000)
        click(lab, APPR, requested, "approval_approve").wait_ack(5)
        wait_until("the fix command on the host", lambda: fix_runs(lab, "xp01", PROBE) == 1)
        worker.kill()
        lab.estate.set_faults("xp01", latency_ms=0)
        ledger = FixLedger(worker.state_dir / "fix-ledger.sqlite")
        [claim] = ledger.claims()
        assert claim.finished_at is None  # killed between its claim and its answer
        # a new worker of the site, on the same state: nothing is redelivered to it
        workers.start(lab.config, "north", state_dir=worker.state_dir.parent)
        final = card(lab, requested.thread_ts, FIX, "outcome_unknown", timeout=90)
        assert "not retried" in blocks_text(final.blocks)
        assert fix_runs(lab, "xp01", PROBE) == 1
        # the same task delivered again (a redelivery, a duplicated publish): refused
        answer = redeliver(lab.settings.broker, claim.key)
        assert isinstance(answer, CollectionError)
        assert "not run again" in str(answer)
        assert answer.delivered
        assert fix_runs(lab, "xp01", PROBE) == 1


def redeliver(broker: BrokerConfig, key: str) -> Any:
    async def go() -> Any:
        client = SiteClient(broker)
        try:
            payload = {"host": "xp01", "fix": FIX, "key": key}
            return await client.call("north", FIX_TASK, payload, "xp01", time.monotonic() + 30)
        except CollectionError as exc:
            return exc
        finally:
            client.close()

    return asyncio.run(go())


# ---------------------------------------------------------------- the broker restart

RABBITMQ_USER = "rabbitmq"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateRabbit:
    """A RabbitMQ node of this test alone (its own name, port and data), so restarting
    it disturbs nobody else on the machine's broker."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="wsusbot-rmq-", dir="/tmp"))
        self.port = _free_port()
        self.node = f"wsusbot_sites_{os.getpid()}@localhost"
        (self.dir / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{self.port}\n", encoding="utf-8"
        )
        (self.dir / "enabled_plugins").write_text("[].\n", encoding="utf-8")
        self.dir.chmod(0o755)
        shutil.chown(self.dir, RABBITMQ_USER, RABBITMQ_USER)
        for child in self.dir.iterdir():
            shutil.chown(child, RABBITMQ_USER, RABBITMQ_USER)
        self.env = {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_CONFIG_FILE": str(self.dir / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_DIST_PORT": str(_free_port()),
            "RABBITMQ_CONF_ENV_FILE": "/dev/null",
        }

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def ctl(self, *args: str, timeout: float = 120) -> None:
        done = subprocess.run(
            ["rabbitmqctl", "-n", self.node, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            pytest.fail(f"rabbitmqctl {' '.join(args)}: {done.stderr.strip()[:500]}")

    def start(self) -> None:
        subprocess.run(["rabbitmq-server", "-detached"], env=self.env, check=True, timeout=60)
        self.wait()

    def wait(self) -> None:
        end = time.monotonic() + 120
        while time.monotonic() < end:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.5)
        pytest.fail(f"the private RabbitMQ node did not listen on {self.port}")

    def restart(self) -> None:
        self.ctl("stop_app")
        self.ctl("start_app")
        self.wait()

    def stop(self) -> None:
        subprocess.run(
            ["rabbitmqctl", "-n", self.node, "stop"], env=self.env, capture_output=True, timeout=60
        )
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def private_rabbit() -> Iterator[PrivateRabbit]:
    if shutil.which("rabbitmq-server") is None:
        pytest.fail("rabbitmq-server is not installed (.ci/run installs it)")
    rabbit = PrivateRabbit()
    try:
        rabbit.start()
        yield rabbit
    finally:
        rabbit.stop()


def test_a_fix_queued_across_a_broker_restart_runs_once(
    tmp_path: Path, private_rabbit: PrivateRabbit
) -> None:
    prefix = new_prefix()
    with Estate.start("wuauserv_stopped", workdir=tmp_path / "lab") as estate:
        config = estate.config_dict()
        config["broker"] = {
            **broker_section(prefix, private_rabbit.url),
            "group_sites": {"lab": "north"},
        }
        path = tmp_path / "worker.toml"
        path.write_text(dumps_toml(config), encoding="utf-8")
        broker = load_settings(path, env={}).broker
        # the bot published the fix, and the publish was duplicated (a publisher retry
        # after a lost confirm does that): two messages, one idempotency key, no worker yet
        app = make_app(broker)
        try:
            payload = {
                "v": PROTOCOL,
                "host": "xp01",
                "fix": FIX,
                "key": "apr_restart_proof",
                "not_after": time.time() + 300,
            }
            for _ in range(2):
                app.send_task(
                    FIX_TASK, args=[payload], queue=queue_name(prefix, "north"), expires=300
                )
        finally:
            app.close()
        private_rabbit.restart()  # the queued tasks are durable and persistent
        with site_workers(config["broker"], tmp_path / "workers") as workers:
            worker = workers.start(path, "north")
            ledger = FixLedger(worker.state_dir / "fix-ledger.sqlite")
            wait_until(
                "the fix's answer in the ledger",
                lambda: ledger.claims() and ledger.claims()[0].finished_at,
            )
            # the duplicate arrives after the first run and is answered from the ledger
            wait_until("the duplicate refused", lambda: "not run again" in worker.output())
        assert estate.host("xp01").probe_counts().get(PROBE, 0) == 1
        [claim] = ledger.claims()
        assert claim.key == "apr_restart_proof"
        assert claim.answer is not None
        assert claim.answer["ok"] is True
