"""Benchmark of ``wsusbot digest --now --dry-run`` against one WSUS server holding a large
inventory; prints a table (not a test).

    python -m bench.bench_digest [--rounds N] [--sizes 10000,100000,250000]

For each size the lab runs in its own process (the ``stalled_fleet`` scenario with its
fleet resized: 5 % behind, 3 % stale, 2 % never synced, 4 % old agents) and writes the
server's whole inventory document once, as the WSUS probe would return it unpaged.
Then, interleaved round by round, each in a fresh process:

- baseline: ``json.loads`` of that inventory document plus a plain loop classifying
  every computer's sync time with ``datetime.fromisoformat`` (the floor of any digest:
  read the inventory once, look at each computer once);
- wsusbot: the whole ``wsusbot digest --now --dry-run`` command (start-up, WinRM to the
  lab, paging, checks, history, the digest), which must read every computer and exit 0.

Figures are medians over the rounds; the ratio is taken round by round (wsusbot over
the baseline of the same round); peak RSS is each process's own high-water mark.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.children import Run, start_ready, timed

ROOT = Path(__file__).resolve().parents[1]
WSUSBOT = [sys.executable, "-c", "import sys; from bot.cli import entry; sys.exit(entry())"]
SIZES = (10_000, 100_000, 250_000)


# ----------------------------------------------------------------- the lab process


def serve_lab(count: int, workdir: Path) -> None:
    """Run the resized stalled_fleet estate until SIGTERM (``--serve-lab``)."""
    import lab.estate as estate_module
    from lab.scenarios import Scenario, load_scenario

    def resized(name: str) -> Scenario:
        scenario = load_scenario(name)
        server = scenario.servers[0]
        assert server.fleet is not None
        fleet = dataclasses.replace(
            server.fleet,
            count=count,
            stale_warn=count // 20,
            stale_fail=count // 33,
            never=count // 50,
            old_agent=count // 25,
        )
        servers = (dataclasses.replace(server, fleet=fleet), *scenario.servers[1:])
        return dataclasses.replace(scenario, servers=servers)

    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    estate_module.load_scenario = resized  # type: ignore[assignment]
    estate = estate_module.Estate.start("stalled_fleet", workdir=workdir / "lab")
    try:
        estate.write_config(
            workdir / "wsusbot.toml",
            {
                "store": {"url": f"sqlite:///{workdir / 'store.db'}"},
                "runner": {"host_deadline_s": 300},
                "digests": [{"id": "bench", "channel": "C0DIGEST", "cron": "0 8 29 2 *"}],
            },
        )
        document = estate.host("wsus01").answer("wsus_computers", {})
        (workdir / "inventory.json").write_text(json.dumps(document), encoding="utf-8")
        print(f"ready {len(document['computers'])}", flush=True)
        signal.sigwait({signal.SIGTERM, signal.SIGINT})
    finally:
        estate.stop()


# ----------------------------------------------------------------- the baseline process


def baseline(path: Path) -> None:
    """``--baseline FILE``: json.loads + one classifying loop; prints JSON figures."""
    started = time.perf_counter()
    document = json.loads(path.read_bytes())
    now = datetime.now(UTC)
    warn, fail = timedelta(days=7), timedelta(days=30)
    counts = {"never": 0, "stale": 0, "behind": 0, "current": 0, "unreadable": 0}
    for computer in document["computers"]:
        text = computer.get("last_sync_time")
        if not text:
            counts["never"] += 1
            continue
        try:
            age = now - datetime.fromisoformat(text)
        except ValueError:
            counts["unreadable"] += 1
            continue
        counts["stale" if age > fail else "behind" if age > warn else "current"] += 1
    elapsed = time.perf_counter() - started
    print(json.dumps({"seconds": elapsed, "computers": sum(counts.values()), **counts}))


# ----------------------------------------------------------------- measuring


_SEEN = re.compile(r"([\d,]+) computers on")


def _computers_read(output: str) -> int:
    found = _SEEN.search(output)
    return int(found.group(1).replace(",", "")) if found else 0


def _start_lab(count: int, workdir: Path) -> tuple[subprocess.Popen[str], int]:
    argv = [sys.executable, "-m", "bench.bench_digest", "--serve-lab", str(count), str(workdir)]
    lab, fields = start_ready(argv, f"{count} computers")
    return lab, int(fields[0])


def bench_size(count: int, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="wsusbot-bench-digest-") as tmp:
        workdir = Path(tmp)
        lab, inventory = _start_lab(count, workdir)
        try:
            ours_cmd = [
                *WSUSBOT,
                "--config",
                str(workdir / "wsusbot.toml"),
                "digest",
                "--now",
                "--dry-run",
            ]
            base_cmd = [
                sys.executable,
                "-m",
                "bench.bench_digest",
                "--baseline",
                str(workdir / "inventory.json"),
            ]
            timed(ours_cmd)  # warm-up: page cache, the store's first migration
            ours: list[Run] = []
            bases: list[Run] = []
            for _ in range(rounds):
                bases.append(timed(base_cmd))
                ours.append(timed(ours_cmd))
        finally:
            lab.send_signal(signal.SIGTERM)
            lab.wait(timeout=60)
    complete = all(r.exit_code == 0 and _computers_read(r.output) == inventory for r in ours)
    base_cpu = [json.loads(r.output)["seconds"] for r in bases]
    return {
        "computers": inventory,
        "base_s": statistics.median(r.wall_s for r in bases),
        "base_inner_s": statistics.median(base_cpu),
        "base_peak": statistics.median(r.peak_mib for r in bases),
        "ours_s": statistics.median(r.wall_s for r in ours),
        "ours_min": min(r.wall_s for r in ours),
        "ours_max": max(r.wall_s for r in ours),
        "ours_peak": statistics.median(r.peak_mib for r in ours),
        "ours_cpu": statistics.median(r.cpu_s for r in ours),
        "base_cpu": statistics.median(r.cpu_s for r in bases),
        "ratio": statistics.median(o.wall_s / b.wall_s for o, b in zip(ours, bases, strict=True)),
        "complete": complete,
        "exit_codes": sorted({r.exit_code for r in ours}),
        "read": sorted({_computers_read(r.output) for r in ours}),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES))
    parser.add_argument("--serve-lab", nargs=2, metavar=("COUNT", "WORKDIR"))
    parser.add_argument("--baseline", type=Path)
    args = parser.parse_args(argv)
    if args.serve_lab:
        serve_lab(int(args.serve_lab[0]), Path(args.serve_lab[1]))
        return
    if args.baseline:
        baseline(args.baseline)
        return
    print(f"load average before: {Path('/proc/loadavg').read_text().strip()}")
    rows = [bench_size(int(size), args.rounds) for size in args.sizes.split(",")]
    print(
        f"\n`digest --now --dry-run`, one server, {args.rounds} rounds interleaved, medians "
        "(baseline: json.loads + fromisoformat loop over the same inventory document)\n"
    )
    print(
        "| computers | baseline s (in-process s) | baseline peak MiB | wsusbot s (min–max) "
        "| wsusbot peak MiB | ratio wsusbot/baseline | CPU s baseline / wsusbot | read completely |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---|")
    for row in rows:
        read = "yes" if row["complete"] else f"NO (exit {row['exit_codes']}, read {row['read']})"
        print(
            f"| {row['computers']:,} | {row['base_s']:.2f} ({row['base_inner_s']:.2f}) "
            f"| {row['base_peak']:.0f} | {row['ours_s']:.2f} ({row['ours_min']:.2f}–"
            f"{row['ours_max']:.2f}) | {row['ours_peak']:.0f} | {row['ratio']:.1f}× "
            f"| {row['base_cpu']:.2f} / {row['ours_cpu']:.2f} | {read} |"
        )
    print(f"\nload average after: {Path('/proc/loadavg').read_text().strip()}")


if __name__ == "__main__":
    main()
