"""Pure cause detection: facts, log state, history and audit rows in; sightings out."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

from bot.digest.causes import Cause, Sighting
from bot.store.audit import AuditAction, AuditRecord
from bot.store.digests import LogFailureState
from checks._support import parse_iso_utc
from checks.facts import WsusComputer
from checks.model import Status, Thresholds
from checks.report import Report
from checks.versions import VersionError, is_below

#: maps a name or IP as the server knows it to the host name the digest shows
Canonical = Callable[[str | None, str | None], str]

DETECTION_CHECK = "client.detection_stalled"
RESET_FIX = "client.reset_au_state"
NOT_RECOVERED = "not_recovered"


def _age_days(now: datetime, then: datetime) -> float:
    return (now - then).total_seconds() / 86400


def inventory_sightings(
    computers: Iterable[WsusComputer],
    *,
    server: str,
    now: datetime,
    thresholds: Thresholds,
    canonical: Canonical,
) -> list[Sighting]:
    """Stale sync (never, or older than ``stale_warn_days``) and agents below the minimum.

    A sync time or version that does not parse says nothing about the client: skipped,
    as ``server.stale_clients`` reports them apart."""
    found: list[Sighting] = []
    for computer in computers:
        host = canonical(computer.name, computer.ip)
        synced_text = (computer.last_sync_time or "").strip()
        if not synced_text:
            found.append(Sighting(host, Cause.STALE_SYNC, "never synced", server, 1e9))
        else:
            try:
                age = _age_days(now, parse_iso_utc(synced_text))
            except ValueError:
                age = None
            if age is not None and age > thresholds.stale_warn_days:
                found.append(
                    Sighting(host, Cause.STALE_SYNC, f"last sync {age:.0f} d ago", server, age)
                )
        version = (computer.client_version or "").strip()
        if version:
            try:
                below = is_below(version, thresholds.min_client_version)
            except VersionError:
                below = False
            if below:
                found.append(
                    Sighting(
                        host,
                        Cause.OLD_AGENT,
                        f"agent {version} (minimum {thresholds.min_client_version})",
                        server,
                        0.0,
                    )
                )
    return found


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def log_sightings(failures: Iterable[LogFailureState], *, canonical: Canonical) -> list[Sighting]:
    """One sighting per client whose self-update requests are still failing (no success
    on that path after the last failure)."""
    per_host: dict[str, list[LogFailureState]] = {}
    for failure in failures:
        if failure.still_failing:
            per_host.setdefault(canonical(None, failure.client_ip), []).append(failure)
    found = []
    for host, rows in per_host.items():
        rows.sort(key=lambda r: (-r.count, r.path.lower(), r.status))
        parts = [f"{r.status} ×{r.count} {r.path}" for r in rows[:3]]
        if len(rows) > 3:
            parts.append(f"+{len(rows) - 3} more")
        last = max(r.last_seen for r in rows)
        total = sum(r.count for r in rows)
        detail = f"{', '.join(parts)}; last {_stamp(last)}"
        found.append(Sighting(host, Cause.IIS_FAILURES, detail, rows[0].server, float(total)))
    return found


def history_sightings(latest: Iterable[tuple[str, Report]]) -> list[Sighting]:
    """Hosts whose latest check run has ``client.detection_stalled`` failing."""
    found = []
    for host, report in latest:
        for finding in report.findings:
            if finding.check == DETECTION_CHECK and finding.status is Status.FAIL:
                when = report.finished_at
                detail = finding.summary + (f" (checked {_stamp(when)})" if when else "")
                found.append(Sighting(host.lower(), Cause.DETECTION_STALLED, detail))
    return found


def followup_sightings(records: Sequence[AuditRecord]) -> list[Sighting]:
    """Hosts whose newest ``client.reset_au_state`` follow-up says not recovered."""
    newest: dict[str, AuditRecord] = {}
    for record in records:
        if record.action != AuditAction.FOLLOWUP or not record.host:
            continue
        if record.fix not in (None, RESET_FIX):
            continue
        current = newest.get(record.host.lower())
        if current is None or record.time >= current.time:
            newest[record.host.lower()] = record
    found = []
    for host, record in newest.items():
        if record.outcome == NOT_RECOVERED:
            detail = f"follow-up {_stamp(record.time)}: not recovered"
            if record.detail:
                detail += f" ({record.detail})"
            found.append(Sighting(host, Cause.RESET_NOT_RECOVERED, detail))
    return found
