"""Benchmarks of the check path; prints a table (not a test).

    python -m bench.bench_checks [--rounds N]

1. evaluate: the 20 checks on literal facts (pure CPU, no I/O)
2. live host check against the lab: one WinRM command (NTLM + encryption) + HTTP probes
3. fleet: many checks at once through the runner (bounded concurrency)
4. a server whose WSUS inventory holds 1,000+ computers (stalled_fleet): bundle size/time
5. Slack: ack latency and time-to-verdict for 20 simultaneous /wsus commands
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bot.config import load_settings
from bot.services import Services
from checks.evaluation import evaluate_facts
from checks.facts import read_host_facts
from checks.model import CheckContext
from checks.registry import default_registry
from handlers.target import HostTarget
from lab.estate import Estate

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
Row = tuple[str, str, str]


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"p50 {statistics.median(ordered) * 1000:.1f} ms · p95 {p95 * 1000:.1f} ms"


def bench_evaluate(rounds: int) -> list[Row]:
    registry = default_registry()
    rows = []
    for name in ("client-broken.json", "server-broken.json"):
        facts = read_host_facts((EXAMPLES / name).read_bytes())
        ctx = CheckContext(now=datetime(2026, 11, 25, 8, tzinfo=UTC))
        started = time.perf_counter()
        for _ in range(rounds * 20):
            evaluate_facts(registry, "h", facts, ctx)
        per = (time.perf_counter() - started) / (rounds * 20)
        rows.append(
            (
                f"evaluate all checks ({name})",
                f"{per * 1e6:.0f} µs/host",
                f"{1 / per:,.0f} hosts/s, one core",
            )
        )
    return rows


def _services(estate: Estate, workdir: Path, concurrency: int) -> Services:
    config = estate.write_config(workdir / "bench.toml", {"runner": {"concurrency": concurrency}})
    return Services.open(load_settings(config, env={}))


async def _timed_check(services: Services, target: HostTarget) -> float:
    async with services.runner() as runner:
        started = time.perf_counter()
        await runner.check(target, "bench")
        return time.perf_counter() - started


def bench_live(rounds: int, workdir: Path) -> list[Row]:
    rows = []
    with Estate.start("healthy", workdir=workdir / "lab-live") as estate:
        services = _services(estate, workdir, 16)
        try:
            for host in ("xp01", "wsus01"):
                target = services.inventory.resolve(host)

                samples = [asyncio.run(_timed_check(services, target)) for _ in range(rounds)]
                commands = estate.wsman(host).stats().commands_run
                rows.append(
                    (
                        f"live check of one {target.role} ({host})",
                        _ms(samples),
                        f"{commands / rounds:.0f} WinRM command(s) per check",
                    )
                )
        finally:
            services.close()
    return rows


def bench_fleet(checks: int, workdir: Path) -> list[Row]:
    with Estate.start("healthy", workdir=workdir / "lab-fleet") as estate:
        services = _services(estate, workdir, 16)
        try:
            targets = services.inventory.all()
            batch = [targets[i % len(targets)] for i in range(checks)]

            async def run() -> float:
                async with services.runner() as runner:
                    started = time.perf_counter()
                    await runner.check_many(batch, "bench")
                    return time.perf_counter() - started

            cpu = time.process_time()
            elapsed = asyncio.run(run())
            cpu = time.process_time() - cpu
        finally:
            services.close()
    return [
        (
            f"fleet: {checks} host checks, concurrency 16",
            f"{elapsed:.2f} s",
            f"{checks / elapsed:.0f} checks/s · bot+lab CPU {cpu / checks * 1000:.0f} ms/check",
        )
    ]


def bench_inventory(workdir: Path) -> list[Row]:
    with Estate.start("stalled_fleet", workdir=workdir / "lab-inv") as estate:
        services = _services(estate, workdir, 4)
        try:
            target = services.inventory.resolve("wsus01")

            async def run() -> tuple[float, int, int]:
                async with services.runner() as runner:
                    started = time.perf_counter()
                    outcome = await runner.check(target, "bench")
                    facts = outcome.facts
                    size = len(facts.model_dump_json()) if facts else 0
                    count = len(
                        getattr(getattr(facts, "wsus_computers", None), "computers", None) or []
                    )
                    return time.perf_counter() - started, size, count

            elapsed, size, count = asyncio.run(run())
        finally:
            services.close()
    return [
        (
            f"server check, {count:,} computers in inventory",
            f"{elapsed * 1000:.0f} ms",
            f"facts document {size / 1024:.0f} KiB",
        )
    ]


def bench_slack(workdir: Path) -> list[Row]:
    from tests.integration.slack_support import slack_lab

    with slack_lab("healthy", workdir / "slack") as lab:
        hosts = ["wsus01", "xp01", "srv03", "win10"]
        started = time.perf_counter()
        deliveries = [lab.command("U0VIEWER", f"check {hosts[i % 4]}") for i in range(20)]
        acks = [d.wait_ack(10).latency for d in deliveries]
        lab.slack.wait_for(
            lambda: sum(1 for m in lab.bot_messages() if ": PASS" in m.text) == 20 or None,
            timeout=120,
        )
        total = time.perf_counter() - started
    return [
        ("Slack: 20 simultaneous /wsus check — ack", _ms(acks), "Slack's limit is 3 s"),
        (
            "Slack: 20 simultaneous /wsus check — all verdicts",
            f"{total:.2f} s",
            "placeholder edited in place",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--fleet", type=int, default=200)
    args = parser.parse_args()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="wsusbot-bench-") as tmp:
        workdir = Path(tmp)
        steps: list[Callable[[], list[Row]]] = [
            lambda: bench_evaluate(args.rounds),
            lambda: bench_live(args.rounds, workdir),
            lambda: bench_fleet(args.fleet, workdir),
            lambda: bench_inventory(workdir),
            lambda: bench_slack(workdir),
        ]
        for step in steps:
            rows += step()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows.append(("peak RSS of this process (bot + lab together)", f"{peak:.0f} MiB", ""))
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'result':<32}  notes")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:<32}  {note}")


if __name__ == "__main__":
    main()
