"""The follow-up verdict after a fix: did the client recover?

The seed's rule (§10): after the Automatic Updates state is reset, a client that still
cannot complete detection against WUServer pushes ``LastWaitTimeout`` forward again; a
move of ``Thresholds.lwt_jump_hours`` or more means "not recovered". The same threshold
drives ``client.detection_stalled``, so the check and the follow-up never disagree.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from checks.facts import ClientFacts
from checks.model import Status, Thresholds
from checks.regtime import RegTimeError, parse_utc_registry_time
from checks.report import Report

#: the fact a follow-up compares, as stored in the approval's context
LWT_PATH = "au.LastWaitTimeout"
#: the checks whose failure means the client has not recovered
RECOVERY_CHECKS = ("client.detection_stalled", "client.agent_version")
EVIDENCE_CHECKS = ("client.detection_stalled", "client.agent_version", "client.au_state")


class FollowupOutcome(enum.StrEnum):
    """Stored with the follow-up row (and its audit line); the digest reads it back."""

    RECOVERED = "recovered"
    NOT_RECOVERED = "not_recovered"
    #: the follow-up check could not read the host
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class FollowupVerdict:
    outcome: FollowupOutcome
    text: str


def _lwt_moved_hours(before: str, now: str) -> float | None:
    try:
        moved = parse_utc_registry_time(now) - parse_utc_registry_time(before)
    except RegTimeError:
        return None
    return moved.total_seconds() / 3600


def followup_verdict(
    host: str,
    report: Report,
    facts: Any,
    before: Mapping[str, Any],
    thresholds: Thresholds,
) -> FollowupVerdict:
    """The outcome of a follow-up check, from its report, its facts and the facts the
    approval card recorded before the fix."""
    if report.unreachable_reason:
        return FollowupVerdict(
            FollowupOutcome.UNKNOWN,
            f"follow-up: {host} could not be read ({report.unreachable_reason})",
        )
    statuses = {f.check: f.status for f in report.findings}
    evidence = "; ".join(f"{c}: {statuses[c].value}" for c in EVIDENCE_CHECKS if c in statuses)
    lwt_before = before.get(LWT_PATH)
    lwt_now = facts.au.LastWaitTimeout if isinstance(facts, ClientFacts) and facts.au else None
    unreadable = False
    if isinstance(lwt_before, str) and lwt_now:
        moved = _lwt_moved_hours(lwt_before, lwt_now)
        unreadable = moved is None
        if moved is not None and moved >= thresholds.lwt_jump_hours:
            return FollowupVerdict(
                FollowupOutcome.NOT_RECOVERED,
                f"follow-up on {host}: not recovered — LastWaitTimeout moved from "
                f"{lwt_before} to {lwt_now} (+{moved:.0f} h): the client still cannot "
                f"complete detection against its WSUS server. {evidence}",
            )
    if any(statuses.get(check) is Status.FAIL for check in RECOVERY_CHECKS):
        return FollowupVerdict(
            FollowupOutcome.NOT_RECOVERED, f"follow-up on {host}: not recovered — {evidence}"
        )
    if unreadable or statuses.get("client.detection_stalled") is Status.UNKNOWN:
        # no failing check is not the same as recovered: the decisive fact is unreadable
        return FollowupVerdict(
            FollowupOutcome.UNKNOWN,
            f"follow-up on {host}: cannot tell — the detection times could not be read "
            f"(LastWaitTimeout before {lwt_before!r}, now {lwt_now!r}). {evidence}",
        )
    return FollowupVerdict(
        FollowupOutcome.RECOVERED, f"follow-up on {host}: recovered — {evidence}"
    )
