"""Site workers: a fleet check of 1,000 host checks embedded vs through 1 and 2 local site
workers (Celery over the local RabbitMQ), same run, interleaved rounds; prints a table.

    python -m bench.bench_sites [--checks 1000] [--clients 1000] [--rounds 3]

The lab gives each host its own loopback address across 127.0.0.0/8 (lab/estate.py), so the
1,000 checks go to 1,000 lab clients, one each, in one ``check_many`` (fewer clients than
checks spread the checks over them).
Every mode runs the same checks with the runner's concurrency 16; a worker runs 16 hosts
at once. The ratio is against the embedded mode of the same run; the broker's overhead
per host is (median through workers - median embedded) / checks. Needs RabbitMQ on
127.0.0.1:5672 (``scripts/rabbitmq-up``) and a vhost the guest user may use (default
``wsusbot-bench``, created with rabbitmqctl when missing).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from bot.config import BrokerConfig, load_settings
from bot.services import Services
from bot.sites.app import make_app
from bot.sites.routing import ping_sites
from lab.estate import Estate, dumps_toml
from lab.scenarios import with_clients

ROOT = Path(__file__).resolve().parents[1]
CONCURRENCY = 16


def check_all(config: Path, checks: int) -> tuple[float, int]:
    """Seconds for one fleet check of ``checks`` host checks; how many were read."""
    services = Services.open(load_settings(config, env={}))
    try:
        clients = [t for t in services.inventory.all() if t.role == "client"]
        targets = [clients[i % len(clients)] for i in range(checks)]

        async def run() -> tuple[float, int]:
            async with services.runner() as runner:
                started = time.perf_counter()
                outcomes = await runner.check_many(targets, "bench")
                elapsed = time.perf_counter() - started
            return elapsed, sum(1 for o in outcomes if o.report.unreachable_reason is None)

        return asyncio.run(run())
    finally:
        services.close()


def start_worker(config: Path, site: str, state: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        return subprocess.Popen(
            [
                str(Path(sys.executable).with_name("wsusbot")),
                "-c",
                str(config),
                "worker",
                "--site",
                site,
                "--concurrency",
                str(CONCURRENCY),
                "--state-dir",
                str(state),
                "--log-level",
                "WARNING",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )


def wait_live(broker: BrokerConfig, site: str, count: int) -> None:
    app = make_app(broker)
    try:
        end = time.monotonic() + 120
        while time.monotonic() < end:
            if ping_sites(app, broker).get(site, 0) >= count:
                return
        raise SystemExit(f"no {count} live worker(s) for {site}")
    finally:
        app.close()


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checks", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--vhost", default="wsusbot-bench")
    args = parser.parse_args()
    subprocess.run(["rabbitmqctl", "add_vhost", args.vhost], capture_output=True)
    subprocess.run(
        ["rabbitmqctl", "set_permissions", "-p", args.vhost, "guest", ".*", ".*", ".*"],
        capture_output=True,
        check=True,
    )
    scenario = with_clients("healthy", args.clients, name=f"bench_sites_{args.clients}")
    workdir = Path(tempfile.mkdtemp(prefix="bench-sites-"))
    prefix = "b" + uuid.uuid4().hex[:8]
    broker: dict[str, Any] = {
        "url": f"amqp://guest:guest@127.0.0.1:5672/{args.vhost}",
        "queue_prefix": prefix,
    }
    workers: list[subprocess.Popen[bytes]] = []
    with Estate.start(scenario, workdir=workdir / "lab") as estate:
        base = estate.config_dict()
        base["runner"]["concurrency"] = CONCURRENCY
        base["runner"]["host_deadline_s"] = 120
        configs: dict[str, Path] = {}
        embedded = dict(base, store={"url": f"sqlite:///{workdir / 'embedded.sqlite'}"})
        configs["embedded"] = workdir / "embedded.toml"
        configs["embedded"].write_text(dumps_toml(embedded), encoding="utf-8")
        for mode, site in (("1 worker", "one"), ("2 workers", "two")):
            sited = dict(
                base,
                store={"url": f"sqlite:///{workdir / (site + '.sqlite')}"},
                broker={**broker, "group_sites": {"lab": site}},
            )
            configs[mode] = workdir / f"{site}.toml"
            configs[mode].write_text(dumps_toml(sited), encoding="utf-8")
        settings = load_settings(configs["1 worker"], env={}).broker
        try:
            workers.append(
                start_worker(configs["1 worker"], "one", workdir / "s1", workdir / "w1.log")
            )
            for index in range(2):
                workers.append(
                    start_worker(
                        configs["2 workers"],
                        "two",
                        workdir / f"s2{index}",
                        workdir / f"w2{index}.log",
                    )
                )
            wait_live(settings, "one", 1)
            wait_live(settings, "two", 2)
            times: dict[str, list[float]] = {mode: [] for mode in configs}
            read: dict[str, int] = {}
            for _ in range(args.rounds):
                for mode, config in configs.items():  # interleaved: one of each per round
                    elapsed, count = check_all(config, args.checks)
                    times[mode].append(elapsed)
                    read[mode] = count
            rss = [peak_rss_mib(w.pid) for w in workers]
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(30)
    bot_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    base_median = statistics.median(times["embedded"])
    print(
        f"fleet check: {args.checks} host checks over {args.clients} lab clients, "
        f"runner concurrency {CONCURRENCY}, "
        f"{args.rounds} interleaved rounds (medians)"
    )
    print(
        f"{'mode':<12} {'median s':>9} {'min-max s':>13} {'hosts/s':>8} {'ratio':>7} "
        f"{'overhead/host':>14} {'read':>6}"
    )

    def row(mode: str) -> str:
        return (
            f"{mode:<12} {statistics.median(times[mode]):>9.2f} "
            f"{min(times[mode]):>6.2f}-{max(times[mode]):<6.2f} "
            f"{args.checks / statistics.median(times[mode]):>8.0f} "
            f"{statistics.median(times[mode]) / base_median:>6.2f}x "
            f"{(statistics.median(times[mode]) - base_median) / args.checks * 1000:>11.1f} ms "
            f"{read[mode]:>6}"
        )

    for mode in configs:
        print(row(mode))
    print(
        f"peak RSS: bench process (bot + lab) {bot_rss:.0f} MiB; workers "
        + ", ".join(f"{r:.0f} MiB" for r in rss)
    )


if __name__ == "__main__":
    main()
