"""Benchmark of fleet checks against bare pywinrm baselines; prints a table (not a test).

    python -m bench.bench_fleet [--clients 1000] [--latency-ms 20] [--rounds 3]
                                [--sample 100] [--big 5000] [--concurrency 32]

The lab runs in its own process (the ``healthy`` scenario with ``--clients`` clients, every
WinRM endpoint answering after ``--latency-ms``). Its idle CPU is read from /proc over
10 s before anything talks to it. Then, interleaved round by round, each in a fresh
process, over the same clients:

- wsusbot: ``wsusbot check --group fleet --json`` (start-up, the runner, every check,
  the history writes), which must report every client PASS;
- pool: a plain ``ThreadPoolExecutor(--concurrency)`` of bare pywinrm,
  ``winrm.Session(url, auth, transport="ntlm").run_ps(<client_facts probe>)`` per client
  (the same probe script wsusbot runs, same parameters), each answer parsed as JSON;
- sequential: the same bare pywinrm loop on one thread, over the first ``--sample``
  clients, scaled to the whole fleet (said so in the table);
- reference: the same thread pool of wsusbot's own WinRM client alone (no checks, no
  store, no asyncio): how fast the lab process can serve these clients at all, since one
  lab process simulating every host is itself a bound on a 2-core machine.

Bot CPU per host is the wsusbot process's own user+system time (``wait4`` rusage) over
the hosts it checked; peak RSS is each process's own high-water mark. Then one host
in-process: a long-lived runner's check of one client against one bare
``run_ps('exit 0')``, interleaved, medians. Last, with ``--big``, a lab of that many
clients is built (build time, its idle CPU) and wsusbot checks all of them once.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.children import Run, start_ready
from bench.children import timed as run_timed

ROOT = Path(__file__).resolve().parents[1]
WSUSBOT = [sys.executable, "-c", "import sys; from bot.cli import entry; sys.exit(entry())"]
GROUP = "fleet"
IDLE_SECONDS = 10.0
#: measured as deployed: bytecode cached (a pip-installed wheel has it); set by bench()
CHILD_ENV: dict[str, str] = dict(os.environ)


def bytecode_cached_env(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    return env


# ----------------------------------------------------------------- the lab process


def serve_lab(clients: int, latency_ms: int, concurrency: int, workdir: Path) -> None:
    """Run the healthy estate with ``clients`` clients until SIGTERM (``--serve-lab``)."""
    import lab.estate as estate_module
    from lab.scenarios import with_clients

    # every client is a listening socket (and a connection while checked)
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    started = time.perf_counter()
    estate = estate_module.Estate.start(
        with_clients("healthy", clients), workdir=workdir / "lab", latency_ms=latency_ms
    )
    built = time.perf_counter() - started
    try:
        config = estate.config_dict()
        for client in config["clients"]:
            client["groups"] = ["lab", GROUP]
        config["store"] = {"url": f"sqlite:///{workdir / 'store.db'}"}
        config["runner"] = {"concurrency": concurrency, "host_deadline_s": 120}
        config["winrm"]["operation_timeout_s"] = 20
        config["winrm"]["read_timeout_s"] = 30
        (workdir / "wsusbot.toml").write_text(estate_module.dumps_toml(config), encoding="utf-8")
        server = config["servers"][0]
        hosts = {
            "username": estate.username,
            "password_file": str(estate.password_file),
            "wsus_url": server["wsus_url"],
            "clients": [{"name": c["name"], "url": c["winrm_url"]} for c in config["clients"]],
        }
        (workdir / "hosts.json").write_text(json.dumps(hosts), encoding="utf-8")
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"ready {built:.2f} {rss:.1f}", flush=True)
        signal.sigwait({signal.SIGTERM, signal.SIGINT})
    finally:
        estate.stop()


@dataclass
class Lab:
    process: subprocess.Popen[str]
    workdir: Path
    build_s: float
    rss_mib: float

    def cpu_s(self) -> float:
        """The lab process's user+system CPU so far (/proc/<pid>/stat)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=300)


def start_lab(clients: int, latency_ms: int, concurrency: int, workdir: Path) -> Lab:
    argv = [sys.executable, "-m", "bench.bench_fleet", "--serve-lab", str(clients),
            str(latency_ms), str(concurrency), str(workdir)]  # fmt: skip
    process, (build, rss) = start_ready(argv, f"{clients} clients", env=CHILD_ENV)
    return Lab(process, workdir, float(build), float(rss))


# ----------------------------------------------------------------- the baselines


def pool_baseline(workers: int, hosts_file: Path, limit: int | None) -> None:
    """Bare pywinrm over the clients (``--pool``); prints one JSON line."""
    from concurrent.futures import ThreadPoolExecutor

    import winrm

    from handlers.probes import compose

    hosts = json.loads(hosts_file.read_text(encoding="utf-8"))
    password = Path(hosts["password_file"]).read_text(encoding="utf-8")
    script = compose.render(
        "client_facts", {"expected_wsus_url": hosts["wsus_url"], "timeout_ms": 5000}
    )
    clients = hosts["clients"][:limit] if limit else hosts["clients"]

    def one(client: dict[str, str]) -> bool:
        try:
            session = winrm.Session(
                client["url"], auth=(hosts["username"], password), transport="ntlm"
            )
            result = session.run_ps(script)
            return result.status_code == 0 and isinstance(json.loads(result.std_out), dict)
        except Exception:
            return False

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(one, clients))
    elapsed = time.perf_counter() - started
    print(json.dumps({"seconds": elapsed, "hosts": len(clients), "ok": sum(results)}))


def lean_pool_baseline(workers: int, hosts_file: Path) -> None:
    """wsusbot's own WinRM client alone over the clients (``--lean-pool``): no checks, no
    store, no asyncio; what the lab can serve at best. Prints one JSON line."""
    from concurrent.futures import ThreadPoolExecutor

    from checks.secret import Secret
    from handlers.probes import compose
    from handlers.target import HostTarget
    from handlers.winrm import WinrmClient, WinrmSettings

    hosts = json.loads(hosts_file.read_text(encoding="utf-8"))
    password = Secret(Path(hosts["password_file"]).read_text(encoding="utf-8"))
    script = compose.render(
        "client_facts", {"expected_wsus_url": hosts["wsus_url"], "timeout_ms": 5000}
    )
    client = WinrmClient(WinrmSettings())

    def one(entry: dict[str, str]) -> bool:
        target = HostTarget(
            name=entry["name"], role="client", address="", winrm_url=entry["url"],
            transport="ntlm", username=hosts["username"], password_file=None,
            verify_tls=True, ca_bundle=None,
        )  # fmt: skip
        try:
            result = client.run(target, password, script, deadline=time.monotonic() + 60)
            return result.exit_code == 0 and isinstance(json.loads(result.stdout), dict)
        except Exception:
            return False

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(one, hosts["clients"]))
    elapsed = time.perf_counter() - started
    print(json.dumps({"seconds": elapsed, "hosts": len(results), "ok": sum(results)}))


def one_host(config: Path, hosts_file: Path, rounds: int) -> None:
    """One client checked by a long-lived runner vs one bare ``run_ps('exit 0')``,
    interleaved in this process (``--one-host``); prints one JSON line."""
    import asyncio

    import winrm

    from bot.config import load_settings
    from bot.services import Services

    hosts = json.loads(hosts_file.read_text(encoding="utf-8"))
    password = Path(hosts["password_file"]).read_text(encoding="utf-8")
    client = hosts["clients"][0]
    services = Services.open(load_settings(config, env={}))
    target = services.inventory.resolve(client["name"])

    def bare() -> float:
        started = time.perf_counter()
        session = winrm.Session(client["url"], auth=(hosts["username"], password), transport="ntlm")
        assert session.run_ps("exit 0").status_code == 0
        return time.perf_counter() - started

    async def go() -> tuple[list[float], list[float], list[str]]:
        ours: list[float] = []
        base: list[float] = []
        verdicts: list[str] = []
        async with services.runner() as runner:
            for _ in range(2):  # warm-up: imports, the store's first write
                await runner.check(target, "bench")
                bare()
            for _ in range(rounds):
                base.append(await asyncio.to_thread(bare))
                started = time.perf_counter()
                outcome = await runner.check(target, "bench")
                ours.append(time.perf_counter() - started)
                verdicts.append(outcome.report.verdict.value)
        return ours, base, verdicts

    try:
        ours, base, verdicts = asyncio.run(go())
    finally:
        services.close()
    print(
        json.dumps(
            {
                "ours": statistics.median(ours),
                "base": statistics.median(base),
                "ratio": statistics.median(o / b for o, b in zip(ours, base, strict=True)),
                "verdicts": sorted(set(verdicts)),
                "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


# ----------------------------------------------------------------- measuring


def timed(command: list[str], lab: Lab) -> Run:
    return run_timed(command, env=CHILD_ENV, with_stderr=False, lab_cpu=lab.cpu_s)


def wsusbot_run(lab: Lab) -> tuple[Run, int, int]:
    run = timed(
        [*WSUSBOT, "--config", str(lab.workdir / "wsusbot.toml"), "check", "--group", GROUP,
         "--json"],
        lab,
    )  # fmt: skip
    try:
        reports = json.loads(run.output)
    except json.JSONDecodeError:
        return run, 0, 0
    passed = sum(1 for r in reports if r.get("verdict") == "pass")
    return run, len(reports), passed


def pool_run(lab: Lab, workers: int, limit: int | None = None) -> tuple[Run, dict[str, Any]]:
    command = [
        sys.executable,
        "-m",
        "bench.bench_fleet",
        "--pool",
        str(workers),
        str(lab.workdir / "hosts.json"),
    ]
    if limit:
        command += ["--limit", str(limit)]
    run = timed(command, lab)
    return run, json.loads(run.output.strip().splitlines()[-1])


def lean_pool_run(lab: Lab, workers: int) -> tuple[Run, dict[str, Any]]:
    command = [sys.executable, "-m", "bench.bench_fleet", "--lean-pool", str(workers),
               str(lab.workdir / "hosts.json")]  # fmt: skip
    run = timed(command, lab)
    return run, json.loads(run.output.strip().splitlines()[-1])


def idle_cpu(lab: Lab) -> float:
    before = lab.cpu_s()
    time.sleep(IDLE_SECONDS)
    return (lab.cpu_s() - before) / IDLE_SECONDS


def med(values: list[float]) -> float:
    return statistics.median(values)


def bench(args: argparse.Namespace) -> None:
    load = os.getloadavg()
    print(f"# bench_fleet: {args.clients} clients, lab latency {args.latency_ms} ms, "
          f"{args.rounds} rounds, concurrency {args.concurrency}; load {load[0]:.1f}",
          flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="wsusbot-bench-fleet-") as tmp:
        workdir = Path(tmp)
        CHILD_ENV.clear()
        CHILD_ENV.update(bytecode_cached_env(workdir))
        subprocess.run(  # writes the bytecode cache once, before anything is timed
            [sys.executable, "-c", "import bot.cli.live, bot.config, winrm, bench.bench_fleet"],
            cwd=ROOT, env=CHILD_ENV, check=True,
        )  # fmt: skip
        lab = start_lab(args.clients, args.latency_ms, args.concurrency, workdir)
        try:
            idle = idle_cpu(lab)
            print(f"lab: {args.clients} clients built in {lab.build_s:.1f} s, "
                  f"RSS {lab.rss_mib:.0f} MiB, idle CPU {idle * 100:.2f} % of a core",
                  flush=True)  # fmt: skip
            ours: list[tuple[Run, int, int]] = []
            pools: list[tuple[Run, dict[str, Any]]] = []
            seqs: list[tuple[Run, dict[str, Any]]] = []
            leans: list[tuple[Run, dict[str, Any]]] = []
            for round_no in range(args.rounds):
                pools.append(pool_run(lab, args.concurrency))
                ours.append(wsusbot_run(lab))
                leans.append(lean_pool_run(lab, args.concurrency))
                seqs.append(pool_run(lab, 1, args.sample))
                o, p, s = ours[-1], pools[-1], seqs[-1]
                print(f"round {round_no + 1}: wsusbot {o[0].wall_s:.1f} s ({o[2]}/{o[1]} PASS, "
                      f"exit {o[0].exit_code}), pool {p[0].wall_s:.1f} s ({p[1]['ok']}/"
                      f"{p[1]['hosts']} ok), sequential sample {s[0].wall_s:.1f} s "
                      f"({s[1]['ok']}/{s[1]['hosts']} ok)", flush=True)  # fmt: skip
            one = json.loads(
                subprocess.run(
                    [sys.executable, "-m", "bench.bench_fleet", "--one-host",
                     str(workdir / "wsusbot.toml"), str(workdir / "hosts.json"),
                     str(args.one_rounds)],
                    cwd=ROOT, env=CHILD_ENV, check=True, capture_output=True, text=True,
                ).stdout.strip().splitlines()[-1]
            )  # fmt: skip
        finally:
            lab.stop()
        big = None
        if args.big:
            big_dir = workdir / "big"
            big_dir.mkdir()
            big_lab = start_lab(args.big, args.latency_ms, args.concurrency, big_dir)
            try:
                big_idle = idle_cpu(big_lab)
                big = (big_lab, big_idle, wsusbot_run(big_lab))
            finally:
                big_lab.stop()
    report(args, idle, lab, ours, pools, seqs, leans, one, big)


def report(
    args: argparse.Namespace,
    idle: float,
    lab: Lab,
    ours: list[tuple[Run, int, int]],
    pools: list[tuple[Run, dict[str, Any]]],
    seqs: list[tuple[Run, dict[str, Any]]],
    leans: list[tuple[Run, dict[str, Any]]],
    one: dict[str, Any],
    big: tuple[Lab, float, tuple[Run, int, int]] | None,
) -> None:
    n = args.clients
    scale = n / args.sample
    our_s = med([o[0].wall_s for o in ours])
    pool_s = med([p[0].wall_s for p in pools])
    seq_s = med([s[0].wall_s for s in seqs]) * scale
    ratio_pool = med([o[0].wall_s / p[0].wall_s for o, p in zip(ours, pools, strict=True)])
    ratio_seq = med([s[0].wall_s * scale / o[0].wall_s for o, s in zip(ours, seqs, strict=True)])
    hosts = ours[0][1] or n
    cpu_ms = med([o[0].cpu_s / max(1, o[1]) * 1000 for o in ours])
    pool_cpu_ms = med([p[0].cpu_s / p[1]["hosts"] * 1000 for p in pools])
    print()
    print(f"| figure ({n:,} clients, lab latency {args.latency_ms} ms) | wall s (median) "
          "| process CPU per host | lab CPU per host | peak RSS | ratio |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---|")
    print(f"| `wsusbot check --group` | {our_s:.1f} | **{cpu_ms:.1f} ms** | "
          f"{med([o[0].lab_cpu_s / max(1, o[1]) * 1000 for o in ours]):.1f} ms | "
          f"{med([o[0].peak_mib for o in ours]):.0f} MiB | **{ratio_pool:.2f}× the pool**; "
          f"**{ratio_seq:.1f}× faster than sequential** |")  # fmt: skip
    print(f"| `ThreadPoolExecutor({args.concurrency})` of bare pywinrm `run_ps` | {pool_s:.1f} | "
          f"{pool_cpu_ms:.1f} ms | "
          f"{med([p[0].lab_cpu_s / p[1]['hosts'] * 1000 for p in pools]):.1f} ms | "
          f"{med([p[0].peak_mib for p in pools]):.0f} MiB | baseline |")  # fmt: skip
    print(f"| sequential bare pywinrm (first {args.sample}, ×{scale:g}) | {seq_s:.1f} | "
          f"{med([s[0].cpu_s / s[1]['hosts'] * 1000 for s in seqs]):.1f} ms | "
          f"{med([s[0].lab_cpu_s / s[1]['hosts'] * 1000 for s in seqs]):.1f} ms | "
          f"{med([s[0].peak_mib for s in seqs]):.0f} MiB | baseline |")  # fmt: skip
    lean_ratio = med([q[0].wall_s / p[0].wall_s for q, p in zip(leans, pools, strict=True)])
    print(f"| reference: `ThreadPoolExecutor({args.concurrency})` of wsusbot's WinRM client "
          f"alone | {med([q[0].wall_s for q in leans]):.1f} | "
          f"{med([q[0].cpu_s / q[1]['hosts'] * 1000 for q in leans]):.1f} ms | "
          f"{med([q[0].lab_cpu_s / q[1]['hosts'] * 1000 for q in leans]):.1f} ms | "
          f"{med([q[0].peak_mib for q in leans]):.0f} MiB | {lean_ratio:.2f}× the pool "
          f"(ok {[q[1]['ok'] for q in leans]}) |")  # fmt: skip
    verdicts = ", ".join(f"{o[2]}/{o[1]}" for o in ours)
    print(f"\nwsusbot verdicts PASS per round: {verdicts} (of {hosts}); exit codes "
          f"{[o[0].exit_code for o in ours]}; pool ok: {[p[1]['ok'] for p in pools]}")  # fmt: skip
    print(f"one host in-process: check {one['ours'] * 1000:.0f} ms vs bare run_ps('exit 0') "
          f"{one['base'] * 1000:.0f} ms: **{one['ratio']:.2f}×** (verdicts {one['verdicts']}, "
          f"peak {one['peak_mib']:.0f} MiB)")  # fmt: skip
    print(f"lab: {n:,} clients built in {lab.build_s:.1f} s, {lab.rss_mib:.0f} MiB, idle "
          f"{idle * 100:.2f} % of a core")  # fmt: skip
    if big is not None:
        big_lab, big_idle, (run, checked, passed) = big
        print(f"lab: {args.big:,} clients built in {big_lab.build_s:.1f} s, "
              f"{big_lab.rss_mib:.0f} MiB, idle {big_idle * 100:.2f} % of a core")  # fmt: skip
        print(f"wsusbot check --group at {args.big:,}: {run.wall_s:.1f} s, {passed}/{checked} "
              f"PASS, exit {run.exit_code}, CPU {run.cpu_s / max(1, checked) * 1000:.1f} ms/host, "
              f"**peak RSS {run.peak_mib:.0f} MiB**")  # fmt: skip


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve-lab":
        serve_lab(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), Path(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--latency-ms", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sample", type=int, default=100, help="sequential loop sample")
    parser.add_argument("--big", type=int, default=5000, help="0: skip the large lab")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--one-rounds", type=int, default=15)
    parser.add_argument("--pool", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--lean-pool", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--one-host", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("hosts", nargs="?", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pool:
        pool_baseline(args.pool, args.hosts, args.limit)
    elif args.lean_pool:
        lean_pool_baseline(args.lean_pool, args.hosts)
    elif args.one_host:
        config, hosts_file, rounds = args.one_host
        one_host(Path(config), Path(hosts_file), int(rounds))
    else:
        bench(args)


if __name__ == "__main__":
    main()
