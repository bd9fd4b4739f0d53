"""Prometheus metrics (prometheus-client), one registry per running bot.

The registry is built by the composition root and handed down (``Services.metrics``);
nothing is registered at import time, so tests and several bots in one process never share
counters. Label values are bounded: command verbs, check and fix ids from the catalogue,
outcome words, Slack API method names and error words; never host names or user ids.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

#: WinRM round trips run from ~50 ms (a warm LAN host) to the operation timeout (20 s)
WINRM_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0)
#: how late a scheduled job starts after its slot; APScheduler's grace time is 3600 s
LAG_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.commands = Counter(
            "wsusbot_commands",
            "Slack commands received, by verb and outcome.",
            ["command", "outcome"],
            registry=r,
        )
        self.checks = Counter(
            "wsusbot_checks",
            "Check findings, by check id and status.",
            ["check", "status"],
            registry=r,
        )
        self.host_checks = Counter(
            "wsusbot_host_checks",
            "Host check runs, by verdict (unknown = the host could not be read).",
            ["verdict"],
            registry=r,
        )
        self.winrm_round_trip = Histogram(
            "wsusbot_winrm_round_trip_seconds",
            "WinRM round trips (one script run on a host), by outcome.",
            ["outcome"],
            buckets=WINRM_BUCKETS,
            registry=r,
        )
        self.fixes = Counter(
            "wsusbot_fixes",
            "Fix runs, by fix id and outcome.",
            ["fix", "outcome"],
            registry=r,
        )
        self.digest_runs = Counter(
            "wsusbot_digest_runs",
            "Digest runs, by digest id and outcome.",
            ["digest", "outcome"],
            registry=r,
        )
        self.scheduler_lag = Histogram(
            "wsusbot_scheduler_lag_seconds",
            "How late a scheduled job started after its scheduled time, by job kind.",
            ["job"],
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.slack_api_errors = Counter(
            "wsusbot_slack_api_errors",
            "Slack Web API calls that failed, by method and Slack's error word.",
            ["method", "error"],
            registry=r,
        )

    def render(self) -> bytes:
        """The text exposition format (what /metrics answers)."""
        return generate_latest(self.registry)

    # ------------------------------------------------------------------ recording

    def command(self, name: str, outcome: str) -> None:
        self.commands.labels(command=name, outcome=outcome).inc()

    def report(self, verdict: str, findings: Iterable[tuple[str, str]]) -> None:
        self.host_checks.labels(verdict=verdict).inc()
        for check, status in findings:
            self.checks.labels(check=check, status=status).inc()

    def fix(self, fix: str, outcome: str) -> None:
        self.fixes.labels(fix=fix, outcome=outcome).inc()

    def digest(self, digest: str, outcome: str) -> None:
        self.digest_runs.labels(digest=digest, outcome=outcome).inc()

    def lag(self, job: str, seconds: float) -> None:
        self.scheduler_lag.labels(job=job).observe(max(0.0, seconds))

    def slack_error(self, method: str, error: str) -> None:
        self.slack_api_errors.labels(method=method, error=error).inc()

    def timed_winrm(self, call: Callable[[], Any]) -> Any:
        """Run one WinRM round trip and observe its duration, whatever its outcome."""
        started = time.perf_counter()
        outcome = "error"
        try:
            result = call()
            outcome = "ok"
            return result
        finally:
            self.winrm_round_trip.labels(outcome=outcome).observe(time.perf_counter() - started)
