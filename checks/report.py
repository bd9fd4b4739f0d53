"""The report of one host check: findings plus the fixes they propose (``wsusbot.report/1``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from checks.fixes import FixMeta, get_fix
from checks.model import Finding, Role, Status

REPORT_SCHEMA = "wsusbot.report/1"


@dataclass(frozen=True, slots=True)
class Report:
    host: str
    role: Role | None
    findings: tuple[Finding, ...]
    started_at: datetime | None = None
    finished_at: datetime | None = None
    #: why the host could not be read, when it could not (findings are then all unknown)
    unreachable_reason: str | None = None
    seeds: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def verdict(self) -> Status:
        """The worst status; ``skip`` only when every check was skipped."""
        if not self.findings:
            return Status.UNKNOWN
        return max((f.status for f in self.findings), key=lambda s: s.rank)

    @property
    def counts(self) -> dict[Status, int]:
        counted = Counter(f.status for f in self.findings)
        return {status: counted.get(status, 0) for status in Status}

    @property
    def problems(self) -> tuple[Finding, ...]:
        """Failing, warning and unknown findings, worst first (stable otherwise)."""
        worst_first = sorted(
            (f for f in self.findings if f.status in _PROBLEM),
            key=lambda f: -f.status.rank,
        )
        return tuple(worst_first)

    @property
    def proposed_fixes(self) -> tuple[FixMeta, ...]:
        seen: dict[str, FixMeta] = {}
        for finding in self.problems:
            if finding.fix and finding.fix not in seen and finding.status is not Status.UNKNOWN:
                seen[finding.fix] = get_fix(finding.fix)
        return tuple(seen.values())

    @property
    def exit_code(self) -> int:
        """CLI exit code: 3 host unreachable, 1 any fail, else 0."""
        if self.unreachable_reason is not None:
            return 3
        return 1 if any(f.status is Status.FAIL for f in self.findings) else 0

    def failing_ids(self, status: Status) -> set[str]:
        return {f.check for f in self.findings if f.status is status}

    @property
    def problem_line(self) -> str:
        """One line: why the host could not be read, or its failing and warning checks."""
        return self.unreachable_reason or ", ".join(
            sorted(self.failing_ids(Status.FAIL) | self.failing_ids(Status.WARN))
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": REPORT_SCHEMA,
            "host": self.host,
            "role": self.role,
            "verdict": self.verdict.value,
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "unreachable_reason": self.unreachable_reason,
            "counts": {status.value: n for status, n in self.counts.items()},
            "findings": [
                {**finding.to_json(), "seed": list(self.seeds.get(finding.check, ()))}
                for finding in self.findings
            ],
            "fixes": [fix.id for fix in self.proposed_fixes],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        """Rebuild a stored report (the store keeps ``to_json()`` output)."""
        findings = tuple(
            Finding(
                check=item["check"],
                status=Status(item["status"]),
                summary=item["summary"],
                evidence=tuple(item.get("evidence") or ()),
                next_step=item.get("next_step"),
                fix=item.get("fix"),
            )
            for item in data.get("findings", [])
        )
        seeds = {item["check"]: tuple(item.get("seed") or ()) for item in data.get("findings", [])}
        return cls(
            host=data["host"],
            role=data.get("role"),
            findings=findings,
            started_at=_parse_iso(data.get("started_at")),
            finished_at=_parse_iso(data.get("finished_at")),
            unreachable_reason=data.get("unreachable_reason"),
            seeds=seeds,
        )


_PROBLEM = frozenset({Status.FAIL, Status.WARN, Status.UNKNOWN})


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
