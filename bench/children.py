"""What the benchmarks share: timing a child process (wall time from outside, its own CPU
and peak RSS from wait4), and starting a lab child that says "ready"."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Run:
    wall_s: float
    #: user + system CPU of the process itself (steadier than wall time on a busy machine;
    #: the lab's own CPU is in its process, not here)
    cpu_s: float
    peak_mib: float
    exit_code: int
    output: str
    #: the lab process's CPU over the same run, when a reader of it was given
    lab_cpu_s: float = 0.0


def timed(
    command: list[str],
    *,
    env: Mapping[str, str] | None = None,
    with_stderr: bool = True,
    lab_cpu: Callable[[], float] | None = None,
) -> Run:
    """One child process; its output goes through a file (no pipe to fill and block)."""
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as out:
        lab_before = lab_cpu() if lab_cpu else 0.0
        started = time.perf_counter()
        child = subprocess.Popen(
            command,
            cwd=ROOT,
            env=dict(env) if env is not None else None,
            stdout=out,
            stderr=subprocess.STDOUT if with_stderr else subprocess.DEVNULL,
        )
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        lab_used = lab_cpu() - lab_before if lab_cpu else 0.0
        out.seek(0)
        text = out.read()
    return Run(
        wall,
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss / 1024,
        os.waitstatus_to_exitcode(status),
        text,
        lab_used,
    )


def start_ready(
    argv: list[str], what: str, env: Mapping[str, str] | None = None
) -> tuple[subprocess.Popen[str], list[str]]:
    """A child that prints ``ready <fields>`` once it serves; the fields, split."""
    child = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=dict(env) if env is not None else None,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    if not line.startswith("ready"):
        child.kill()
        raise RuntimeError(f"the lab did not start for {what}: {line!r}")
    return child, line.split()[1:]
