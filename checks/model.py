"""Core domain types: statuses, findings, check metadata and the evaluation context."""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from checks.facts import ClientFacts, ServerFacts

Role = Literal["client", "server"]


class Status(enum.StrEnum):
    PASS = "pass"  # noqa: S105 - a status word, not a password
    WARN = "warn"
    FAIL = "fail"
    UNKNOWN = "unknown"
    SKIP = "skip"

    @property
    def rank(self) -> int:
        """Worse statuses rank higher; the verdict of a report is its worst finding."""
        return _RANK[self]


_RANK = {Status.SKIP: 0, Status.PASS: 1, Status.UNKNOWN: 2, Status.WARN: 3, Status.FAIL: 4}


class Severity(enum.StrEnum):
    """How much a failure of this check matters to self-update."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """docs/catalogue.md defaults; every one is a config value (``[thresholds]``), defined
    here once: the checks, the follow-up verdict and the digest read the same values."""

    stale_warn_days: int = 7
    stale_fail_days: int = 30
    min_client_version: str = "7.6.7600.256"
    sus_era_below_version: str = "5.8"
    lwt_jump_hours: float = 24.0
    lwt_ahead_warn_hours: float = 20.0
    search_warn_days: float = 3.0
    search_fail_days: float = 7.0
    log_error_window_hours: float = 72.0


@dataclass(frozen=True, slots=True)
class LogScope:
    """What of a server's IIS log is current (``server.iis_log_errors``)."""

    #: client addresses to leave out: the bot's own (its HTTP probes are not a client)
    ignored_client_ips: frozenset[str] = frozenset()
    #: when a fix's re-check last passed on this server: failures before it are history
    resolved_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class CheckContext:
    """Everything a check may know besides the facts. No I/O hides behind it."""

    now: datetime
    thresholds: Thresholds = field(default_factory=Thresholds)
    #: the WSUS URL the inventory says this client should use (``http://wsus01:8530``)
    expected_wsus_url: str | None = None
    #: the facts of the same host from its previous check run, if any
    previous: ClientFacts | ServerFacts | None = None
    #: the IIS log scope of a server (ignored addresses, last verified fix)
    log_scope: LogScope = field(default_factory=LogScope)


@dataclass(frozen=True, slots=True)
class Finding:
    """The outcome of one check on one host. Renderers lay this out; they never decide."""

    check: str
    status: Status
    summary: str
    evidence: tuple[str, ...] = ()
    next_step: str | None = None
    fix: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "status": self.status.value,
            "summary": self.summary,
            "evidence": list(self.evidence),
            "next_step": self.next_step,
            "fix": self.fix,
        }


FactsT = TypeVar("FactsT", ClientFacts, ServerFacts)


@dataclass(frozen=True, slots=True)
class CheckMeta:
    id: str
    role: Role
    title: str
    severity: Severity
    #: seed page sections, e.g. ("§4", "§7")
    seed: tuple[str, ...]
    #: dotted facts paths the check reads (documentation and `checks explain`)
    reads: tuple[str, ...]
    remediation: str
    #: the fix id proposed when the check fails, if any
    fix: str | None = None
    #: what the check verifies, one sentence
    description: str = ""
    #: True when ``evaluate`` reads ``ctx.previous``: only then does the runner load and
    #: parse the host's previous facts (a server's can be megabytes of inventory and logs)
    uses_history: bool = False


@dataclass(frozen=True, slots=True)
class Check(Generic[FactsT]):
    meta: CheckMeta
    evaluate: Callable[[FactsT, CheckContext], Finding]

    @property
    def id(self) -> str:
        return self.meta.id


class FindingBuilder:
    """Small helper so each check states outcomes, not Finding plumbing."""

    def __init__(self, meta: CheckMeta) -> None:
        self._meta = meta

    def passed(self, summary: str, evidence: Sequence[str] = ()) -> Finding:
        return Finding(self._meta.id, Status.PASS, summary, tuple(evidence))

    def skip(self, summary: str) -> Finding:
        return Finding(self._meta.id, Status.SKIP, summary)

    def unknown(self, summary: str, evidence: Sequence[str] = ()) -> Finding:
        return Finding(
            self._meta.id,
            Status.UNKNOWN,
            summary,
            tuple(evidence),
            next_step="Re-run the check once the host can be read; see the evidence for what "
            "was missing.",
        )

    def warn(
        self,
        summary: str,
        evidence: Sequence[str],
        next_step: str | None = None,
        fix: str | Literal[False] | None = None,
    ) -> Finding:
        return self._problem(Status.WARN, summary, evidence, next_step, fix)

    def fail(
        self,
        summary: str,
        evidence: Sequence[str],
        next_step: str | None = None,
        fix: str | Literal[False] | None = None,
    ) -> Finding:
        return self._problem(Status.FAIL, summary, evidence, next_step, fix)

    def _problem(
        self,
        status: Status,
        summary: str,
        evidence: Sequence[str],
        next_step: str | None,
        fix: str | Literal[False] | None,
    ) -> Finding:
        # fix=None means "the check's default fix"; fix=False means "no fix applies here"
        chosen = None if fix is False else (fix or self._meta.fix)
        return Finding(
            self._meta.id,
            status,
            summary,
            tuple(evidence),
            next_step=next_step or self._meta.remediation,
            fix=chosen,
        )
