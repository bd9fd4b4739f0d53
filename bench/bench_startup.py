"""Start-up: ``wsusbot --help`` and an offline ``check --facts``, against the floor
``python -c "import typer, rich"``; prints a table (not a test).

    python -m bench.bench_startup [--rounds 15]

Each command is a fresh interpreter, timed from outside (wall clock around the child;
user + system CPU and peak RSS from ``os.wait4``). The command and the baseline run in
turn (A B A B ...) and the ratio is taken pair by pair, then the median: pairing keeps the
ratio meaningful when a shared machine's speed drifts.

Two bytecode conditions: "cached" (what an installed wheel has: pip compiles it; here a
cache outside the tree, PYTHONPYCACHEPREFIX) and "source" (PYTHONDONTWRITEBYTECODE=1 with
no cache: every project module compiled on each run, as in a bare checkout). The
baseline's own modules (typer, rich) are compiled in site-packages either way.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASELINE = [sys.executable, "-c", "import typer, rich"]
WSUSBOT = [sys.executable, "-c", "from bot.cli import entry; entry()"]
COMMANDS = {
    "wsusbot --help": [*WSUSBOT, "--help"],
    "wsusbot check HOST --facts F": [
        *WSUSBOT,
        "check",
        "xp01",
        "--facts",
        str(ROOT / "examples" / "client-healthy.json"),
    ],
}


def run(argv: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """(wall s, cpu s, peak RSS MiB) of one child."""
    started = time.perf_counter()
    child = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _pid, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode not in (0, 1):
        raise RuntimeError(f"{argv[3:]} exited {child.returncode}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def environment(cached: bool, cache_dir: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPYCACHEPREFIX", None)
    if cached:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = cache_dir
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-startup-pyc-") as cache_dir:
        for cached in (True, False):
            env = environment(cached, cache_dir)
            for name, argv in COMMANDS.items():
                for _ in range(2):  # warm-up: page cache, and the bytecode cache filled
                    run(argv, env)
                    run(BASELINE, env)
                pairs = []
                for _ in range(args.rounds):
                    pairs.append((run(argv, env), run(BASELINE, env)))
                a = [p[0] for p in pairs]
                b = [p[1] for p in pairs]
                rows.append(
                    (
                        name,
                        "cached" if cached else "source",
                        statistics.median(x[0] for x in a),
                        statistics.median(x[0] for x in b),
                        statistics.median(x[0] / y[0] for x, y in pairs),
                        statistics.median(x[1] / y[1] for x, y in pairs),
                        max(x[2] for x in a),
                        max(x[2] for x in b),
                    )
                )
    load_after = Path("/proc/loadavg").read_text().split()[:3]
    print(f"\nstart-up, {args.rounds} interleaved pairs per row, medians")
    print(
        f"cores {os.cpu_count()} · load average before {' '.join(load_before)}"
        f" · after {' '.join(load_after)}"
    )
    header = (
        f"{'command':<30} {'bytecode':<8} {'wall':>8} {'baseline':>9} {'wall ×':>7}"
        f" {'cpu ×':>6} {'peak MiB':>9} {'base MiB':>9}"
    )
    print(header)
    print("-" * len(header))
    for name, mode, wall, base, ratio, cpu, peak, base_peak in rows:
        print(
            f"{name:<30} {mode:<8} {wall * 1000:6.0f}ms {base * 1000:7.0f}ms {ratio:7.2f}"
            f" {cpu:6.2f} {peak:9.1f} {base_peak:9.1f}"
        )
    print('baseline: python -c "import typer, rich"; goal: wall × <= 4')


if __name__ == "__main__":
    main()
