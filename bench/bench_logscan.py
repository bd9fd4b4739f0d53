"""Benchmark: logscan on a large generated IIS W3C log, against grep and a plain loop.

    .venv/bin/python -m bench.bench_logscan                 # 1 GiB (default), 5 rounds
    .venv/bin/python -m bench.bench_logscan --size-mb 100 --before

The log is generated deterministically (``--seed``) once into ``--folder`` (the temporary
directory) and kept for later runs: ordinary web traffic, 1.5 % of the request events
self-update exchanges (about 2 % of the lines: successes, NTLM handshakes, 401, 403, 404,
500 and 503 failures from a subset of clients), four ``#Fields`` sections alternating the
IIS 7 and IIS 6 layouts, and 0.1 % corrupt lines (truncated, bad dates, binary garbage).

Each figure is a whole process (interpreter start-up included), and the baselines run in
the same rounds, interleaved: ``grep -c -i wutrack.bin FILE`` and a plain Python loop
(every line lowered and searched for the four stems). The table gives medians, the
ratios are the medians of the per-round ratios, and the peak RSS is the largest of each
command's processes (``wait4``). ``--before`` adds the scan as it was (every line decoded
and put through the line loop).

``logscan`` runs ``scan_files`` as the command does: on a file this large it forks one
search process (both read the file; the child searches two 4 MiB units in three, the
command the third, and parses and aggregates), so it uses two processes on two CPUs, and
its peak RSS is that of the larger of them (GNU time reports the largest process, not the
sum). Each command's CPU seconds (user + system, its children included) are printed as
well: on a shared machine (load average above 2) their ratio is the steadier figure.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

IIS7_FIELDS = (
    "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
    "cs(User-Agent) sc-status sc-substatus sc-win32-status time-taken"
)
IIS6_FIELDS = (
    "date time s-sitename s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
    "cs(User-Agent) sc-status sc-substatus sc-win32-status"
)

_AGENTS = (
    "Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64)+AppleWebKit/537.36+(KHTML,+like+Gecko)"
    "+Chrome/120.0.0.0+Safari/537.36",
    "Mozilla/4.0+(compatible;+MSIE+7.0;+Windows+NT+5.1;+.NET+CLR+2.0.50727)",
    "Mozilla/5.0+(Windows+NT+6.1;+Trident/7.0;+rv:11.0)+like+Gecko",
    "curl/7.55.1",
)
_WU_AGENT = "Windows-Update-Agent"
_SELFUPDATE_STEMS = (
    "/selfupdate/wuident.cab",
    "/iuident.cab",
    "/wutrack.bin",
    "/ClientWebService/client.asmx",
    "/selfupdate/AU/x86/XP/EN/wuaucomp.cab",
    "/SelfUpdate/AU/x86/NetServer/JA/wuaucomp.cab",
)
#: (status, substatus, win32 status) of failing self-update answers
_FAILURES = ((404, 0, 2), (404, 3, 50), (500, 24, 50), (500, 0, 0), (503, 0, 0), (403, 4, 5))
_POOL_SIZE = 4096
_LINES_PER_SECOND = 40


def _ordinary_tails(rng: random.Random, iis6: bool) -> list[str]:
    tails = []
    for _ in range(_POOL_SIZE):
        kind = rng.random()
        if kind < 0.5:
            stem = f"/images/img{rng.randrange(400)}.png"
        elif kind < 0.8:
            stem = f"/app/page{rng.randrange(150)}.aspx"
        else:
            stem = rng.choice(("/", "/default.htm", "/favicon.ico", "/css/site.css"))
        query = f"id={rng.randrange(100000)}" if rng.random() < 0.3 else "-"
        status = rng.choice((200, 200, 200, 200, 304, 302, 404))
        client = f"10.{rng.randrange(1, 4)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        user = rng.choice(("-", "-", "-", "CORP\\alice", "CORP\\bob"))
        tails.append(
            _tail(iis6, rng, "GET", stem, query, user, client, rng.choice(_AGENTS), status, 0, 0)
        )
    return tails


def _tail(
    iis6: bool,
    rng: random.Random,
    method: str,
    stem: str,
    query: str,
    user: str,
    client: str,
    agent: str,
    status: int,
    substatus: int,
    win32: int,
) -> str:
    if iis6:
        return (
            f"W3SVC1 192.168.0.10 {method} {stem} {query} 80 {user} {client} {agent} "
            f"{status} {substatus} {win32}"
        )
    return (
        f"192.168.0.10 {method} {stem} {query} 80 {user} {client} {agent} "
        f"{status} {substatus} {win32} {rng.randrange(1, 900)}"
    )


def _selfupdate_groups(rng: random.Random, iis6: bool) -> list[list[str]]:
    """Small sequences of self-update lines one client produces together."""
    groups: list[list[str]] = []
    for _ in range(_POOL_SIZE // 4):
        client = f"10.9.{rng.randrange(8)}.{rng.randrange(1, 60)}"
        stem = rng.choice(_SELFUPDATE_STEMS)
        kind = rng.random()
        if kind < 0.6:
            lines = [(200, 0, 0)]
        elif kind < 0.8:
            # NTLM: anonymous attempt, challenge, authenticated success
            lines = [(401, 2, 5), (401, 1, 2148074254), (200, 0, 0)]
        elif kind < 0.9:
            lines = [(401, 2, 5)]
        else:
            lines = [rng.choice(_FAILURES)]
        groups.append(
            [
                _tail(iis6, rng, "GET", stem, "-", "-", client, _WU_AGENT, *answer)
                for answer in lines
            ]
        )
    return groups


def _corrupt_line(rng: random.Random, stamp: str, tail: str) -> bytes:
    kind = rng.randrange(4)
    if kind == 0:
        return f"{stamp} {tail}"[: rng.randrange(10, 60)].encode() + b"\n"
    if kind == 1:
        return f"2024-13-45 99:99:99 {tail}\n".encode()
    if kind == 2:
        return rng.randbytes(rng.randrange(20, 120)).replace(b"\n", b"\xff") + b"\n"
    return b"\x00" * rng.randrange(1, 64) + b"\n"


def _header(fields: str, moment: datetime) -> str:
    return (
        "#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n"
        f"#Date: {moment:%Y-%m-%d %H:%M:%S}\n#Fields: {fields}\n"
    )


def write_log(
    path: Path,
    size_bytes: int,
    *,
    seed: int = 1,
    selfupdate_share: float = 0.049,
    layout_blocks: int = 2,
    crlf: bool = False,
) -> int:
    """Write a deterministic W3C log of about ``size_bytes``; returns its line count.

    ``selfupdate_share``: the share of request events that are self-update exchanges (an
    exchange is one to three lines); 0.1 % of the lines are corrupt, the rest is ordinary
    traffic. ``layout_blocks``: how many ``#Fields`` sections the file has, alternating the
    IIS 7 and IIS 6 layouts (each opened by a full header, as after a restart). ``crlf``:
    end lines with ``\\r\\n`` as IIS does.
    """
    rng = random.Random(seed)
    pools = {
        iis6: (_ordinary_tails(rng, iis6), _selfupdate_groups(rng, iis6)) for iis6 in (False, True)
    }
    moment = datetime(2024, 1, 5)
    written = 0
    lines = 0
    iis6 = False
    blocks = max(1, layout_blocks)
    block = 0
    ordinary_share = 1.0 - 0.001 - selfupdate_share
    with path.open("wb") as out:
        header = _header(IIS7_FIELDS, moment).encode()
        out.write(header)
        written += len(header)
        lines += 4
        while written < size_bytes:
            if written >= (block + 1) * size_bytes // blocks:
                block += 1
                iis6 = not iis6
                header = _header(IIS6_FIELDS if iis6 else IIS7_FIELDS, moment).encode()
                out.write(header.replace(b"\n", b"\r\n") if crlf else header)
                written += len(header)
                lines += 4
            ordinary, selfupdate = pools[iis6]
            chunk: list[bytes] = []
            for _ in range(250):
                moment += timedelta(seconds=1)
                stamp = f"{moment:%Y-%m-%d %H:%M:%S}"
                text: list[str] = []
                for _ in range(_LINES_PER_SECOND):
                    pick = rng.random()
                    if pick < ordinary_share:
                        text.append(f"{stamp} {ordinary[rng.getrandbits(12)]}\n")
                    elif pick < 0.999:
                        for tail in selfupdate[rng.getrandbits(10)]:
                            text.append(f"{stamp} {tail}\n")
                    else:
                        chunk.append(_corrupt_line(rng, stamp, ordinary[rng.getrandbits(12)]))
                        lines += 1
                lines += len(text)
                chunk.append("".join(text).encode())
            data = b"".join(chunk)
            if crlf:
                data = data.replace(b"\n", b"\r\n")
            out.write(data)
            written += len(data)
    return lines


#: the yardstick a plain script would be: every line, lowered, searched for the stems
PLAIN_LOOP = """
import sys

STEMS = (b"/wutrack.bin", b"/selfupdate/", b"/iuident.cab", b"/clientwebservice/")
lines = requests = selfupdate = 0
with open(sys.argv[1], "rb") as handle:
    for line in handle:
        lines += 1
        if line[:1] == b"#":
            continue
        requests += 1
        lowered = line.lower()
        for stem in STEMS:
            if stem in lowered:
                selfupdate += 1
                break
print(lines, requests, selfupdate)
"""

#: wsusbot's scan, as ``wsusbot logscan`` runs it (the library call, without the CLI)
LOGSCAN = """
import resource
import sys

from checks.logscan import scan_files

result = scan_files([sys.argv[1]])
print(result.lines, result.requests, result.selfupdate_requests, len(result.failures))
own = resource.getrusage(resource.RUSAGE_SELF)
child = resource.getrusage(resource.RUSAGE_CHILDREN)
print("cpu", own.ru_utime + own.ru_stime, child.ru_utime + child.ru_stime, file=sys.stderr)
"""

#: the scan as it was before the byte scanner: every line through the text reader
LOGSCAN_BEFORE = """
import sys

from checks.logscan import SELFUPDATE_PATHS, scan
from checks.w3c import ParseStats, iter_records, open_log

stats = ParseStats()
records = iter_records(open_log(sys.argv[1], stats=stats), stats=stats,
                       stem_prefixes=SELFUPDATE_PATHS)
result = scan(records, stats=stats)
print(result.lines, result.requests, result.selfupdate_requests, len(result.failures))
"""


#: GNU time reports the command's own peak RSS (``wait4`` from this process would also count
#: the pages of the Python parent it was forked from)
GNU_TIME = "/usr/bin/time"


def _run(command: list[str]) -> tuple[float, float, float, str, float]:
    """Wall seconds, CPU seconds, peak RSS (MiB), standard output of one whole process,
    and the CPU seconds of the busiest of its processes (as far as it reports them)."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        wrapped = (
            [GNU_TIME, "-f", "%M %U %S", "-o", rss.name, *command]
            if os.access(GNU_TIME, os.X_OK)
            else command
        )
        before = os.times()
        started = time.perf_counter()
        process = subprocess.run(wrapped, capture_output=True)
        seconds = time.perf_counter() - started
        after = os.times()
        if process.returncode not in (0, 1):  # grep -c exits 1 when it counts 0
            raise RuntimeError(f"{command[:3]} exited {process.returncode}")
        text = rss.read().strip()
    # the children's times of this process: the command and what it waited for
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    peak = int(text.splitlines()[-1].split()[0]) / 1024 if text else float("nan")
    busiest = cpu
    for line in process.stderr.decode(errors="replace").splitlines():
        if line.startswith("cpu "):
            busiest = max(float(value) for value in line.split()[1:])
    return seconds, cpu, peak, process.stdout.decode().strip(), busiest


def _log_path(args: argparse.Namespace) -> Path:
    name = (
        f"bench_logscan_{args.size_mb:g}mb_s{args.seed}_u{args.selfupdate_share:g}"
        f"_b{args.layout_blocks}{'_crlf' if args.crlf else ''}.log"
    )
    return Path(args.folder) / name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=1024.0, help="log size (MiB)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (>= 5)")
    parser.add_argument("--selfupdate-share", type=float, default=0.015)
    parser.add_argument("--layout-blocks", type=int, default=4)
    parser.add_argument("--crlf", action="store_true", help="end lines with CRLF as IIS does")
    parser.add_argument("--before", action="store_true", help="also time the old line scan")
    parser.add_argument("--folder", default=tempfile.gettempdir(), help="where the log is kept")
    args = parser.parse_args(argv)
    path = _log_path(args)
    generated = 0.0
    if not path.exists():
        # generated once and kept: the same file serves every later run
        started = time.perf_counter()
        partial = path.with_suffix(".partial")
        write_log(
            partial,
            int(args.size_mb * 1024 * 1024),
            seed=args.seed,
            selfupdate_share=args.selfupdate_share,
            layout_blocks=args.layout_blocks,
            crlf=args.crlf,
        )
        partial.rename(path)
        generated = time.perf_counter() - started
    python = sys.executable
    commands: dict[str, list[str]] = {
        "grep -c -i wutrack.bin": ["grep", "-c", "-i", "wutrack.bin", str(path)],
        "plain Python loop": [python, "-c", PLAIN_LOOP, str(path)],
        "logscan": [python, "-c", LOGSCAN, str(path)],
    }
    if args.before:
        commands["logscan before (line loop)"] = [python, "-c", LOGSCAN_BEFORE, str(path)]
    for command in commands.values():
        _run(command)  # warm the page cache and the interpreter's files
    times: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    busiest: dict[str, list[float]] = {name: [] for name in commands}
    peaks: dict[str, float] = dict.fromkeys(commands, 0.0)
    outputs: dict[str, set[str]] = {name: set() for name in commands}
    load_before = _loadavg()
    for _ in range(max(5, args.rounds)):
        for name, command in commands.items():
            seconds, cpu, peak, output, most = _run(command)
            times[name].append(seconds)
            cpus[name].append(cpu)
            busiest[name].append(most)
            peaks[name] = max(peaks[name], peak)
            outputs[name].add(output)
    medians = {name: statistics.median(values) for name, values in times.items()}
    grep = statistics.median(
        a / b for a, b in zip(times["logscan"], times["grep -c -i wutrack.bin"], strict=True)
    )
    loop = statistics.median(
        a / b for a, b in zip(times["logscan"], times["plain Python loop"], strict=True)
    )
    mib = path.stat().st_size / (1024 * 1024)
    made = f", generated in {generated:.1f} s" if generated else ""
    print(f"log: {path} ({mib:,.1f} MiB{made})")
    print(
        f"rounds: {max(5, args.rounds)}, interleaved; load average before: {load_before}, "
        f"after: {_loadavg()}"
    )
    print(
        f"{'command':<28} {'median s':>9} {'min s':>7} {'max s':>7} {'MiB/s':>7} "
        f"{'CPU s':>7} {'peak RSS':>9}  output"
    )
    for name in commands:
        values = times[name]
        print(
            f"{name:<28} {medians[name]:>9.2f} {min(values):>7.2f} {max(values):>7.2f} "
            f"{mib / medians[name]:>7.0f} {statistics.median(cpus[name]):>7.2f} "
            f"{peaks[name]:>6.1f} MiB  {' | '.join(sorted(outputs[name]))}"
        )
    grep_cpu = statistics.median(
        a / b for a, b in zip(cpus["logscan"], cpus["grep -c -i wutrack.bin"], strict=True)
    )
    print(f"logscan / grep -c -i (median of per-round ratios): {grep:.2f}x")
    critical = statistics.median(
        a / b for a, b in zip(busiest["logscan"], cpus["grep -c -i wutrack.bin"], strict=True)
    )
    print(f"logscan / grep -c -i, CPU seconds (median of per-round ratios): {grep_cpu:.2f}x")
    print(
        "logscan's busiest process / grep -c -i, CPU seconds (median of per-round ratios; "
        f"the wall time on two free CPUs): {critical:.2f}x "
        f"(median {statistics.median(busiest['logscan']):.2f} s)"
    )
    print(f"logscan / plain Python loop (median of per-round ratios): {loop:.2f}x")
    if args.before:
        before = statistics.median(
            a / b
            for a, b in zip(times["logscan before (line loop)"], times["logscan"], strict=True)
        )
        print(f"logscan before / logscan (median of per-round ratios): {before:.2f}x")
    return 0


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


if __name__ == "__main__":
    sys.exit(main())
