"""100 simultaneous ``/wsus check``: how fast the bot acks, and when the verdicts land.

    python -m bench.bench_acks [--rounds 5] [--commands 100]

The lab's WinRM hosts (one WSUS server and ``--commands`` clients, one command per client)
run in a child process, as real hosts would be elsewhere; the local Slack and the bots run
here, because the figure is the local Slack's own measure: ``Delivery.wait_ack`` returns
the time from its sending a command to its receiving the ack.

Per round, interleaved: the baseline (the same local Slack delivering the same burst to a
trivial Bolt app that only acks, served the way wsusbot serves: Socket Mode through
``SocketModeRunner``, HTTP through ``SlackAsgi`` + uvicorn), then wsusbot, in Socket Mode
and in HTTP mode. Reported: ack p50 / p99 (medians over the rounds), their ratio to the
baseline, verdict p99 (from a command's send to its final message), the time of one check
alone (the goal: verdict p99 <= 2 x single x ceil(commands / runner concurrency)), and the
peak RSS of this process (bot + local Slack) and of the lab process.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHANNEL = "C0WSUS"
USER = "U0VIEWER"
CONCURRENCY = 16  # the lab config's runner concurrency (the default)


# ------------------------------------------------------------------ the lab, in a child


def lab_child(count: int, workdir: Path) -> None:
    import lab.estate
    from lab.scenarios import with_clients

    with lab.estate.Estate.start(with_clients("healthy", count), workdir=workdir) as estate:
        estate.write_config(workdir / "lab.toml")
        print("ready", flush=True)
        sys.stdin.read()  # until the parent closes it
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak {peak:.1f}", flush=True)


@contextmanager
def lab_process(count: int, workdir: Path) -> Iterator[tuple[dict[str, Any], list[float]]]:
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.bench_acks", "--lab-child", str(count), str(workdir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    peak: list[float] = []
    try:
        assert child.stdout is not None
        assert child.stdin is not None
        if child.stdout.readline().strip() != "ready":
            raise RuntimeError("the lab did not start")
        yield tomllib.loads((workdir / "lab.toml").read_text(encoding="utf-8")), peak
        child.stdin.close()
        for line in child.stdout:
            if line.startswith("peak "):
                peak.append(float(line.split()[1]))
    finally:
        if child.poll() is None:
            child.terminate()
        child.wait(30)


# ------------------------------------------------------------------ the bots under test


class Target:
    """Something the local Slack delivers a burst to."""

    name: str
    mode: str
    slack: Any
    checks: bool

    def stop(self) -> None: ...


class Wsusbot(Target):
    def __init__(self, mode: str, lab_config: dict[str, Any], workdir: Path) -> None:
        from bot.cli.lab_cmd import LAB_ROLES, slack_sections
        from bot.config import load_settings
        from bot.runtime import BotRuntime
        from lab.estate import deep_merge, dumps_toml
        from lab.slack import LocalSlack

        self.name, self.mode, self.checks = f"wsusbot ({mode})", mode, True
        self.slack = LocalSlack().start()
        folder = workdir / f"bot-{mode}"
        folder.mkdir()
        sections = slack_sections(self.slack, folder)
        sections.pop("digests", None)
        sections["roles"] = dict(LAB_ROLES)
        sections["store"] = {"url": f"sqlite:///{folder / 'wsusbot.sqlite'}"}
        config = folder / "wsusbot.toml"
        config.write_text(dumps_toml(deep_merge(lab_config, sections)), encoding="utf-8")
        settings = load_settings(config, env={})
        self.runtime = BotRuntime(settings, mode=mode, env={}, port=0, health_port=0)  # type: ignore[arg-type]
        self.runtime.start()
        if mode == "http":
            self.slack.http_bot_url = f"http://127.0.0.1:{self.runtime.http_port}/slack/events"
        else:
            self.slack.wait_for_socket(10)

    def stop(self) -> None:
        self.runtime.stop()
        self.slack.stop()


class TrivialBolt(Target):
    """The baseline: a Bolt app whose /wsus listener only acks."""

    def __init__(self, mode: str) -> None:
        from slack_bolt import App
        from slack_sdk import WebClient

        from bot.slack.serve import HttpServer, SlackAsgi, SocketModeRunner
        from lab.slack import LocalSlack

        self.name, self.mode, self.checks = f"trivial Bolt app ({mode})", mode, False
        self.slack = LocalSlack().start()
        client = WebClient(token=self.slack.bot_token, base_url=self.slack.api_url)
        app = App(
            client=client,
            signing_secret=self.slack.signing_secret if mode == "http" else None,
            request_verification_enabled=mode == "http",
            process_before_response=False,
        )

        @app.command("/wsus")
        def wsus(ack: Callable[[], None]) -> None:
            ack()

        self._socket = None
        self._http = None
        if mode == "socket":
            self._socket = SocketModeRunner(app, self.slack.app_token).start()
            self.slack.wait_for_socket(10)
        else:

            class Ready:
                def report(self) -> tuple[bool, dict[str, bool]]:
                    return True, {}

            self._http = HttpServer(SlackAsgi(app, Ready()), "127.0.0.1", 0).start()  # type: ignore[arg-type]
            self.slack.http_bot_url = f"http://127.0.0.1:{self._http.port}/slack/events"

    def stop(self) -> None:
        if self._socket is not None:
            self._socket.stop()
        if self._http is not None:
            self._http.stop()
        self.slack.stop()


# ------------------------------------------------------------------ one burst


@dataclasses.dataclass
class Burst:
    acks: list[float]
    verdicts: list[float]
    rss_mib: float


def rss_mib() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def burst(target: Target, hosts: list[str], timeout: float = 120.0) -> Burst:
    slack = target.slack
    seen = {ts for ts, _ in slack.texts(CHANNEL)} if target.checks else set()
    sent: dict[str, float] = {}
    deliveries = []
    for host in hosts:
        sent[host] = time.monotonic()
        deliveries.append(
            slack.type_command(USER, CHANNEL, "/wsus", f"check {host}", mode=target.mode)
        )
    peak = rss_mib()
    acks = [d.wait_ack(timeout).latency for d in deliveries]
    verdicts: dict[str, float] = {}
    end = time.monotonic() + timeout
    while target.checks and len(verdicts) < len(hosts) and time.monotonic() < end:
        now = time.monotonic()
        # texts(), not messages(): the local Slack shares this process with the bot, and
        # deep-copying every message's blocks 50 times a second would be measured as the
        # bot's latency
        for ts, text in slack.texts(CHANNEL):
            if ts in seen or "checking" in text:
                continue
            host = text.partition(": ")[0]
            if host in sent and host not in verdicts:
                verdicts[host] = now - sent[host]
        peak = max(peak, rss_mib())
        time.sleep(0.02)
    if target.checks and len(verdicts) < len(hosts):
        raise RuntimeError(f"{target.name}: {len(hosts) - len(verdicts)} verdicts missing")
    if target.checks:
        target.runtime.ctx.worker.drain(60)  # type: ignore[attr-defined]
    return Burst(acks, list(verdicts.values()), peak)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


# ------------------------------------------------------------------ the run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--commands", type=int, default=100)
    parser.add_argument(
        "--lab-child", nargs=2, metavar=("COUNT", "WORKDIR"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.lab_child:
        lab_child(int(args.lab_child[0]), Path(args.lab_child[1]))
        return
    load_before = Path("/proc/loadavg").read_text(encoding="ascii").split()[:3]
    hosts = [f"c{i:04d}" for i in range(args.commands)]  # lab.scenarios.with_clients' names
    results: dict[str, list[Burst]] = {}
    singles: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-acks-") as tmp:
        workdir = Path(tmp)
        (workdir / "lab").mkdir()
        with lab_process(args.commands, workdir / "lab") as (lab_config, lab_peak):
            targets: list[Target] = [
                TrivialBolt("socket"),
                Wsusbot("socket", lab_config, workdir),
                TrivialBolt("http"),
                Wsusbot("http", lab_config, workdir),
            ]
            try:
                for target in targets:  # warm-up: connections, imports, first NTLM
                    burst(target, hosts[:4])
                for round_no in range(args.rounds):
                    for target in targets:
                        results.setdefault(target.name, []).append(burst(target, hosts))
                        if target.checks:
                            one = hosts[round_no % len(hosts)]
                            singles.setdefault(target.name, []).extend(
                                burst(target, [one]).verdicts
                            )
                    print(f"round {round_no + 1}/{args.rounds} done", file=sys.stderr, flush=True)
            finally:
                for target in targets:
                    target.stop()
    load_after = Path("/proc/loadavg").read_text(encoding="ascii").split()[:3]
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def med(name: str, q: float, field: str = "acks") -> float:
        return statistics.median(pct(getattr(b, field), q) for b in results[name])

    print(
        f"\n{args.commands} simultaneous /wsus check, {args.rounds} rounds"
        " (medians of per-round p50/p99)"
    )
    print(
        f"cores {os.cpu_count()} · load average before {' '.join(load_before)}"
        f" · after {' '.join(load_after)}"
    )
    header = (
        f"{'target':<26} {'ack p50':>9} {'ack p99':>9} {'p99/base':>9} {'verdict p99':>12}"
        f" {'single':>8} {'goal':>8} {'RSS MiB':>8}"
    )
    print(header)
    print("-" * len(header))
    for mode in ("socket", "http"):
        base = f"trivial Bolt app ({mode})"
        bot = f"wsusbot ({mode})"
        print(
            f"{base:<26} {med(base, 0.5) * 1000:8.0f}ms {med(base, 0.99) * 1000:8.0f}ms"
            f" {'1.00':>9} {'—':>12} {'—':>8} {'—':>8} {max(b.rss_mib for b in results[base]):8.0f}"
        )
        single = statistics.median(singles[bot])
        goal = 2 * single * math.ceil(args.commands / CONCURRENCY)
        print(
            f"{bot:<26} {med(bot, 0.5) * 1000:8.0f}ms {med(bot, 0.99) * 1000:8.0f}ms"
            f" {med(bot, 0.99) / med(base, 0.99):9.2f} {med(bot, 0.99, 'verdicts'):11.2f}s"
            f" {single:7.2f}s {goal:7.1f}s {max(b.rss_mib for b in results[bot]):8.0f}"
        )
    lab_rss = f"{lab_peak[0]:.0f} MiB" if lab_peak else "?"
    print(
        f"peak RSS: this process (4 local Slacks, 2 bots) {peak_self:.0f} MiB"
        f" · lab process {lab_rss}"
    )


if __name__ == "__main__":
    main()
