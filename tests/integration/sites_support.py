"""Site workers against the real RabbitMQ on 127.0.0.1:5672: real ``wsusbot worker``
processes, the lab's hosts split into sites.

Each test gets its own queue prefix on the ``wsusbot-test-sites`` vhost, so tests (and
other users of the broker) never see each other's queues, pings or results."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bot.config import BrokerConfig
from bot.sites.app import make_app
from bot.sites.routing import ping_sites

VHOST = "wsusbot-test-sites"
BROKER = "amqp://guest:guest@127.0.0.1:5672/" + VHOST
ROOT = Path(__file__).resolve().parents[2]
WSUSBOT = Path(sys.executable).with_name("wsusbot")


def rabbitmq_vhost(vhost: str = VHOST, node: str | None = None) -> None:
    """Create the vhost (once; guest gets all rights on it). Needs rabbitmqctl (root)."""
    where = ["-n", node] if node else []
    subprocess.run(["rabbitmqctl", *where, "add_vhost", vhost], capture_output=True, timeout=60)
    done = subprocess.run(
        ["rabbitmqctl", *where, "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
        capture_output=True,
        timeout=60,
        text=True,
    )
    if done.returncode != 0:
        pytest.fail(f"cannot prepare RabbitMQ vhost {vhost}: {done.stderr.strip()[:300]}")


def new_prefix() -> str:
    return "t" + uuid.uuid4().hex[:10]


def broker_section(prefix: str, url: str = BROKER, **more: Any) -> dict[str, Any]:
    return {"url": url, "queue_prefix": prefix, "ping_timeout_s": 0.5, **more}


@dataclass
class Worker:
    site: str
    process: subprocess.Popen[bytes]
    state_dir: Path
    log: Path

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, nothing acknowledged or cleaned up."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@dataclass
class Workers:
    broker: BrokerConfig
    workdir: Path
    started: list[Worker] = field(default_factory=list)

    def start(
        self,
        config: Path,
        site: str,
        *,
        concurrency: int = 4,
        state_dir: Path | None = None,
        env: dict[str, str] | None = None,
        wait: bool = True,
    ) -> Worker:
        state_dir = state_dir or self.workdir / f"state-{site}-{len(self.started)}"
        log = self.workdir / f"worker-{site}-{len(self.started)}.log"
        environ = {k: v for k, v in os.environ.items() if not k.startswith("WSUSBOT_")}
        environ.update(env or {})
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [
                    str(WSUSBOT),
                    "-c",
                    str(config),
                    "worker",
                    "--site",
                    site,
                    "--concurrency",
                    str(concurrency),
                    "--state-dir",
                    str(state_dir),
                    "--log-level",
                    "WARNING",
                ],
                stdout=sink,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                env=environ,
            )
        worker = Worker(site, process, state_dir / site, log)
        self.started.append(worker)
        if wait:
            self.wait_live(site, len([w for w in self.started if w.site == site and w.alive()]))
        return worker

    def wait_live(self, site: str, count: int, timeout: float = 90.0) -> None:
        app = make_app(self.broker)
        try:
            end = time.monotonic() + timeout
            while time.monotonic() < end:
                if ping_sites(app, self.broker).get(site, 0) >= count:
                    return
                dead = [w for w in self.started if w.process.poll() is not None and w.site == site]
                if dead and count > 0 and not any(w.alive() for w in self.started):
                    pytest.fail(f"worker for {site} exited:\n{dead[-1].output()[-3000:]}")
            logs = "\n".join(w.output()[-1500:] for w in self.started if w.site == site)
            pytest.fail(f"no {count} live worker(s) for site {site} in {timeout} s:\n{logs}")
        finally:
            app.close()

    def stop_all(self) -> None:
        for worker in self.started:
            worker.stop()


@contextmanager
def site_workers(broker: dict[str, Any], workdir: Path) -> Iterator[Workers]:
    workdir.mkdir(parents=True, exist_ok=True)
    workers = Workers(BrokerConfig.model_validate(broker), workdir)
    try:
        yield workers
    finally:
        workers.stop_all()


def split_sites(config: dict[str, Any], sites: dict[str, str]) -> dict[str, Any]:
    """The estate's config with each named host given its site."""
    for key in ("servers", "clients"):
        for entry in config.get(key, []):
            if entry["name"] in sites:
                entry["site"] = sites[entry["name"]]
    return config
