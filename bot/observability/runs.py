"""The run store the runner records into, counting each report's findings on the way:
every check run (Slack, CLI, digest, follow-up) is recorded there, so nothing is missed."""

from __future__ import annotations

from typing import Any

from bot.observability.metrics import Metrics
from bot.store.db import Database
from bot.store.runs import RunStore
from checks.report import Report


class CountingRunStore(RunStore):
    def __init__(self, db: Database, metrics: Metrics) -> None:
        super().__init__(db)
        self._metrics = metrics

    def record(self, report: Report, facts: dict[str, Any] | None, requested_by: str) -> int:
        run_id = super().record(report, facts, requested_by)
        self._metrics.report(
            report.verdict.value, ((f.check, f.status.value) for f in report.findings)
        )
        return run_id
