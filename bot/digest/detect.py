"""Pure cause detection: facts, log state, history and audit rows in; sightings out."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from bot.digest.causes import Cause, Sighting
from bot.store.approvals import FollowupResult
from bot.store.digests import LogFailureState
from checks.computers import SyncState, classify_notable
from checks.facts import WsusComputer
from checks.followup import FollowupOutcome
from checks.model import Status, Thresholds
from checks.report import Report

#: maps a name or IP as the server knows it to the host name the digest shows
Canonical = Callable[[str | None, str | None], str]

DETECTION_CHECK = "client.detection_stalled"
RESET_FIX = "client.reset_au_state"


def inventory_sightings(
    computers: Iterable[WsusComputer],
    *,
    server: str,
    now: datetime,
    thresholds: Thresholds,
    canonical: Canonical,
) -> list[Sighting]:
    """Stale sync (never, or older than ``stale_warn_days``) and agents below the minimum,
    classified as ``server.stale_clients`` classifies them (:mod:`checks.computers`).

    A sync time or version that does not parse says nothing about the client: skipped,
    as ``server.stale_clients`` reports them apart."""
    found: list[Sighting] = []
    # the common case (current on both counts) never leaves classify_notable
    for computer, state in classify_notable(computers, now, thresholds):
        stale = state.sync_stale
        old = state.agent_old
        if not (stale or old):
            continue  # unreadable, or unreported: not a cause
        host = canonical(computer.name, computer.ip)
        if state.sync is SyncState.NEVER:
            found.append(Sighting(host, Cause.STALE_SYNC, "never synced", server, 1e9))
        elif stale and state.sync_age_days is not None:
            age = state.sync_age_days
            found.append(
                Sighting(host, Cause.STALE_SYNC, f"last sync {age:.0f} d ago", server, age)
            )
        if old:
            found.append(
                Sighting(
                    host,
                    Cause.OLD_AGENT,
                    f"agent {state.version} (minimum {thresholds.min_client_version})",
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


def followup_sightings(results: Iterable[FollowupResult]) -> list[Sighting]:
    """Hosts whose newest ``client.reset_au_state`` follow-up says not recovered."""
    newest: dict[str, FollowupResult] = {}
    for result in results:
        if result.fix_id != RESET_FIX:
            continue
        current = newest.get(result.host.lower())
        if current is None or result.finished_at >= current.finished_at:
            newest[result.host.lower()] = result
    found = []
    for host, result in newest.items():
        if result.outcome is FollowupOutcome.NOT_RECOVERED:
            detail = f"follow-up {_stamp(result.finished_at)}: not recovered"
            if result.detail:
                detail += f" ({result.detail})"
            found.append(Sighting(host, Cause.RESET_NOT_RECOVERED, detail))
    return found
