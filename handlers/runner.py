"""The runner: resolve -> collect once -> evaluate every check -> record.

Fleet work is bounded concurrency with a deadline per host; one slow or broken host never
delays another (each host is its own task under its own deadline).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from checks.errors import (
    CONFIG_REASON,
    CollectionError,
    CollectionTimeoutError,
    ConfigError,
    UnsupportedOsError,
    WsusbotError,
)
from checks.evaluation import evaluate_facts, unreachable_report
from checks.facts import ClientFacts, HostFacts, dump, parse_host_facts, role_of
from checks.model import CheckContext, LogScope, Thresholds
from checks.platforms import WINDOWS_2000_REASON, declared_windows_2000
from checks.registry import Registry
from checks.report import Report
from handlers.target import HostTarget

log = logging.getLogger(__name__)


class Collector(Protocol):
    async def collect(self, target: HostTarget, deadline: float) -> HostFacts: ...


class History(Protocol):
    def previous_facts(self, host: str) -> dict[str, Any] | None: ...

    def record(self, report: Report, facts: dict[str, Any] | None, requested_by: str) -> int: ...


Clock = Callable[[], datetime]
#: a server's IIS log scope (bot addresses, last verified fix); may read the store
LogScopeSource = Callable[[HostTarget], LogScope]
#: a scope for one fan-out, in which collectors may share what is the same for every
#: host (``HttpProber.fleet_round``: each server URL fetched once)
FleetRound = Callable[[], AbstractAsyncContextManager[None]]
#: a scope in which a check's bot-side probes are its own (``HttpProber.fresh``)
FreshProbes = Callable[[], AbstractContextManager[None]]


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    target: HostTarget
    report: Report
    facts: HostFacts | None
    run_id: int | None


class Runner:
    def __init__(
        self,
        registry: Registry,
        collector: Collector,
        history: History | None,
        *,
        clock: Clock,
        thresholds: Thresholds | None = None,
        concurrency: int = 16,
        host_deadline_s: float = 60.0,
        log_scope: LogScopeSource | None = None,
        fleet_round: FleetRound | None = None,
        fresh_probes: FreshProbes | None = None,
    ) -> None:
        self._registry = registry
        self._collector = collector
        self._history = history
        self._clock = clock
        self._thresholds = thresholds or Thresholds()
        self._semaphore = asyncio.Semaphore(concurrency)
        self._deadline_s = host_deadline_s
        self._log_scope = log_scope
        self._fleet_round = fleet_round
        self._fresh_probes = fresh_probes

    async def check(
        self, target: HostTarget, requested_by: str, *, record: bool = True, fresh: bool = False
    ) -> CheckOutcome:
        """``fresh``: the re-check after a fix; its bot-side HTTP probes share nothing with
        other checks under way (``HttpProber.fresh``)."""
        scope = self._fresh_probes() if fresh and self._fresh_probes is not None else nullcontext()
        async with self._semaphore:
            with scope:
                return await self._check(target, requested_by, record)

    async def check_many(
        self,
        targets: Sequence[HostTarget],
        requested_by: str,
        on_done: Callable[[CheckOutcome], None] | None = None,
        *,
        keep_facts: bool = True,
        each_in: Callable[[], AbstractContextManager[object]] | None = None,
    ) -> list[CheckOutcome]:
        """Check every target; ``keep_facts=False`` drops each host's facts from its
        outcome once it is recorded (a 5,000-host run need not hold 5,000 documents);
        ``each_in`` is entered around each host's check, in that host's own task (the
        caller's per-run log context)."""

        async def one(target: HostTarget) -> CheckOutcome:
            with each_in() if each_in is not None else nullcontext():
                outcome = await self.check(target, requested_by)
            if on_done is not None:
                on_done(outcome)
            return outcome if keep_facts else dataclasses.replace(outcome, facts=None)

        scope = self._fleet_round() if self._fleet_round is not None else nullcontext()
        async with scope:
            return list(await asyncio.gather(*(one(t) for t in targets)))

    # ------------------------------------------------------------------ internals

    async def _check(self, target: HostTarget, requested_by: str, record: bool) -> CheckOutcome:
        started = self._clock()
        if declared_windows_2000(target.os):
            # never contacted: nothing there can answer WinRM
            report = self._unreachable(
                target,
                UnsupportedOsError.reason,
                f"{target.name}: {WINDOWS_2000_REASON} (the inventory declares {target.os!r})",
                started,
            )
            return await self._finish(target, report, None, requested_by, record)
        deadline = time.monotonic() + self._deadline_s
        try:
            facts = await asyncio.wait_for(
                self._collector.collect(target, deadline), timeout=self._deadline_s + 1.0
            )
        except TimeoutError:
            report = self._unreachable(
                target,
                CollectionTimeoutError.reason,
                f"{target.name}: no answer within the {self._deadline_s:.0f} s deadline",
                started,
            )
            return await self._finish(target, report, None, requested_by, record)
        except (CollectionError, ConfigError) as exc:
            reason = exc.reason if isinstance(exc, CollectionError) else CONFIG_REASON
            report = self._unreachable(target, reason, str(exc), started)
            return await self._finish(target, report, None, requested_by, record)
        except WsusbotError as exc:
            report = self._unreachable(target, CollectionError.reason, str(exc), started)
            return await self._finish(target, report, None, requested_by, record)

        previous = None
        if any(check.meta.uses_history for check in self._registry.for_role(role_of(facts))):
            previous = _parse_previous(await self._previous(target), facts)
        ctx = CheckContext(
            now=self._clock(),
            thresholds=self._thresholds,
            expected_wsus_url=target.wsus_url if isinstance(facts, ClientFacts) else None,
            previous=previous,
            log_scope=await self._scope(target, facts),
        )
        report = evaluate_facts(self._registry, target.name, facts, ctx, started_at=started)
        return await self._finish(target, report, facts, requested_by, record)

    def _unreachable(
        self, target: HostTarget, reason: str, message: str, started: datetime
    ) -> Report:
        return unreachable_report(
            self._registry,
            target.name,
            target.role,
            reason,
            message,
            started_at=started,
            finished_at=self._clock(),
        )

    async def _scope(self, target: HostTarget, facts: HostFacts) -> LogScope:
        if self._log_scope is None or isinstance(facts, ClientFacts):
            return LogScope()
        return await asyncio.to_thread(self._log_scope, target)

    async def _previous(self, target: HostTarget) -> dict[str, Any] | None:
        if self._history is None:
            return None
        return await asyncio.to_thread(self._history.previous_facts, target.name)

    async def _finish(
        self,
        target: HostTarget,
        report: Report,
        facts: HostFacts | None,
        requested_by: str,
        record: bool,
    ) -> CheckOutcome:
        run_id = None
        if record and self._history is not None:
            facts_doc = facts_for_history(facts) if facts is not None else None
            run_id = await asyncio.to_thread(self._history.record, report, facts_doc, requested_by)
        return CheckOutcome(target=target, report=report, facts=facts, run_id=run_id)


def _parse_previous(raw: dict[str, Any] | None, current: HostFacts) -> HostFacts | None:
    if raw is None:
        return None
    try:
        previous = parse_host_facts(raw)
    except WsusbotError:
        log.warning("stored previous facts do not parse; evaluating without history")
        return None
    return previous if role_of(previous) == role_of(current) else None


def facts_for_history(facts: HostFacts) -> dict[str, Any]:
    """The facts document a run keeps: everything but a server's computer list, which can
    be hundreds of thousands of entries (tens of MB) and which nothing reads back (history
    checks and fix cards read the server's configuration); its count stays."""
    document = dump(facts)
    inventory = document.get("wsus_computers")
    if isinstance(inventory, dict) and isinstance(inventory.get("computers"), list):
        count = len(inventory["computers"])
        document["wsus_computers"] = {
            **inventory,
            "computers": None,
            "total": inventory.get("total") or count,
            "errors": [
                *(inventory.get("errors") or []),
                {"source": "history", "message": f"{count} computers not kept in history"},
            ],
        }
    return document
