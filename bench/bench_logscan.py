"""Benchmark: scan a large generated IIS W3C log for failing self-update traffic.

    .venv/bin/python -m bench.bench_logscan              # 1 GB (default)
    .venv/bin/python -m bench.bench_logscan --size-mb 100

The log is generated deterministically (``--seed``) into a temporary directory: about 95%
ordinary web traffic, the rest self-update requests (successes, NTLM handshakes, 401,
403, 404, 500 and 503 failures from a subset of clients), a ``#Fields`` change to the
IIS 6 layout halfway, and some corrupt lines (truncated, bad dates, binary garbage).
The scan runs twice: once for time, once under tracemalloc for its allocation peak (the
second pass is slower; its time is not reported).
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timedelta
from pathlib import Path

from checks.logscan import ScanResult, scan_files

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


def write_log(path: Path, size_bytes: int, *, seed: int = 1) -> int:
    """Write a deterministic W3C log of about ``size_bytes``; returns its line count."""
    rng = random.Random(seed)
    pools = {
        iis6: (_ordinary_tails(rng, iis6), _selfupdate_groups(rng, iis6)) for iis6 in (False, True)
    }
    moment = datetime(2024, 1, 5)
    written = 0
    lines = 0
    iis6 = False
    with path.open("wb") as out:
        header = _header(IIS7_FIELDS, moment).encode()
        out.write(header)
        written += len(header)
        lines += 4
        while written < size_bytes:
            if not iis6 and written >= size_bytes // 2:
                iis6 = True
                header = _header(IIS6_FIELDS, moment).encode()
                out.write(header)
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
                    if pick < 0.95:
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
            out.write(data)
            written += len(data)
    return lines


def _timed_scan(path: Path) -> tuple[ScanResult, float]:
    start = time.perf_counter()
    result = scan_files([path])
    return result, time.perf_counter() - start


def _traced_peak(path: Path) -> int:
    tracemalloc.start()
    try:
        scan_files([path])
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=1024.0, help="log size (MiB)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-tracemalloc", action="store_true", help="skip the traced pass")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_logscan_") as folder:
        path = Path(folder) / "u_ex240105.log"
        started = time.perf_counter()
        write_log(path, int(args.size_mb * 1024 * 1024), seed=args.seed)
        generated = time.perf_counter() - started
        size = path.stat().st_size
        result, seconds = _timed_scan(path)
        rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        traced = None if args.no_tracemalloc else _traced_peak(path)
    mib = size / (1024 * 1024)
    rows = (
        ("size", f"{mib:,.1f} MiB"),
        ("lines", f"{result.lines:,}"),
        ("requests", f"{result.requests:,}"),
        ("self-update requests", f"{result.selfupdate_requests:,}"),
        ("failure groups", f"{len(result.failures):,}"),
        ("handshakes dropped", f"{result.handshakes:,}"),
        ("skipped lines", f"{sum(result.skipped.values()):,}"),
        ("generate seconds", f"{generated:,.1f}"),
        ("scan seconds", f"{seconds:,.2f}"),
        ("lines/s", f"{result.lines / seconds:,.0f}"),
        ("MB/s", f"{mib / seconds:,.1f}"),
        ("peak RSS", f"{rss_mib:,.1f} MiB"),
        ("tracemalloc peak", "-" if traced is None else f"{traced / (1024 * 1024):,.2f} MiB"),
    )
    width = max(len(name) for name, _ in rows)
    print(f"{'metric':<{width}}  value")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
