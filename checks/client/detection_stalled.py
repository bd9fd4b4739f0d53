"""client.detection_stalled: the client reaches its WUServer (§9, §10).

Three rules, worst wins: LastWaitTimeout jumping a day past the value seen last time
(the seed's sign that the agent could not reach WUServer), LastWaitTimeout far ahead of
now when there is no history, and the age of the last successful search.

Registry times are read in the form Automatic Updates writes (``2003.09.10 12:38:10``) and
the documented dotted one (checks/regtime.py, with sources); LastWaitTimeout is UTC,
DetectionStartTime local time (Cc708554 §10; smallvoid.com sample "GMT Time" / "Local Time").
"""

from __future__ import annotations

from datetime import datetime

from checks._support import as_utc, days, hours, missing, parse_iso_utc
from checks.facts import AuState, ClientFacts
from checks.model import Check, CheckContext, CheckMeta, Finding, FindingBuilder, Severity, Status
from checks.regtime import (
    RegTimeError,
    format_registry_time,
    parse_registry_time,
    parse_utc_registry_time,
)

META = CheckMeta(
    id="client.detection_stalled",
    role="client",
    title="Detection is not stalled",
    severity=Severity.HIGH,
    seed=("§9", "§10"),
    reads=(
        "au.LastWaitTimeout",
        "au.DetectionStartTime",
        "au.last_search_success",
        "previous facts: au.LastWaitTimeout",
    ),
    remediation=(
        "The agent keeps postponing detection because it cannot reach WUServer. Fix what "
        "the other client checks report (policy, reachability, proxy), then reset the "
        "Automatic Updates state (AUState = 2, delete LastWaitTimeout and "
        "DetectionStartTime, restart wuauserv) and re-check about 10 minutes later."
    ),
    fix="client.reset_au_state",
    description="Checks LastWaitTimeout against its previous value and the clock, and the "
    "age of the last successful update search.",
    uses_history=True,
)

_BUILD = FindingBuilder(META)

_Rule = tuple[Status, str]


def _previous_lwt(ctx: CheckContext) -> tuple[datetime | None, str | None]:
    """The previous run's LastWaitTimeout, or why there is none usable."""
    previous = ctx.previous
    if not isinstance(previous, ClientFacts):
        return None, "no previous check of this client"
    text = previous.au.LastWaitTimeout if previous.au else None
    if text is None:
        return None, "the previous check saw no LastWaitTimeout"
    try:
        return parse_utc_registry_time(text), None
    except RegTimeError as exc:
        return None, f"previous LastWaitTimeout unreadable ({exc})"


def _lwt_rule(au: AuState, ctx: CheckContext) -> _Rule | None:
    if au.LastWaitTimeout is None:
        return None
    try:
        current = parse_utc_registry_time(au.LastWaitTimeout)
    except RegTimeError as exc:
        return Status.UNKNOWN, f"LastWaitTimeout unreadable: {exc}"
    limits = ctx.thresholds
    previous, why_not = _previous_lwt(ctx)
    if previous is not None:
        moved = (current - previous).total_seconds() / 3600
        line = (
            f"LastWaitTimeout {au.LastWaitTimeout} UTC; previous check "
            f"{format_registry_time(previous)} UTC; moved {hours(moved)}"
        )
        if moved >= limits.lwt_jump_hours:
            return Status.FAIL, line + f" (>= {hours(limits.lwt_jump_hours)}: WUServer unreachable)"
        return Status.PASS, line
    ahead = (current - as_utc(ctx.now)).total_seconds() / 3600
    line = f"LastWaitTimeout {au.LastWaitTimeout} UTC is {hours(ahead)} from now ({why_not})"
    if ahead >= limits.lwt_ahead_warn_hours:
        return Status.WARN, line + f" (>= {hours(limits.lwt_ahead_warn_hours)} ahead)"
    return Status.PASS, line


def _search_rule(au: AuState, ctx: CheckContext) -> _Rule | None:
    if au.last_search_success is None:
        return None
    try:
        searched = parse_iso_utc(au.last_search_success)
    except ValueError:
        return Status.UNKNOWN, f"last successful search unreadable: {au.last_search_success[:40]!r}"
    age = (as_utc(ctx.now) - searched).total_seconds() / 86400
    limits = ctx.thresholds
    line = f"last successful search {au.last_search_success} ({days(age)} ago)"
    if age >= limits.search_fail_days:
        return Status.FAIL, line + f" (>= {days(limits.search_fail_days)})"
    if age >= limits.search_warn_days:
        return Status.WARN, line + f" (>= {days(limits.search_warn_days)})"
    return Status.PASS, line


def _detection_start_note(au: AuState) -> str | None:
    if au.DetectionStartTime is None:
        return None
    try:
        parse_registry_time(au.DetectionStartTime)
    except RegTimeError as exc:
        return f"DetectionStartTime unreadable ({exc}); not used"
    return (
        f"DetectionStartTime {au.DetectionStartTime} (host local time; the facts carry no "
        "UTC offset, so it is shown as written and not compared)"
    )


def evaluate(facts: ClientFacts, ctx: CheckContext) -> Finding:
    au = facts.au
    if au is None:
        return missing(_BUILD, "au", facts.errors, "au")
    rules = [rule for rule in (_lwt_rule(au, ctx), _search_rule(au, ctx)) if rule is not None]
    evidence = [line for _, line in rules]
    if au.LastWaitTimeout is None:
        evidence.append("LastWaitTimeout is not set (normal right after a reset)")
    note = _detection_start_note(au)
    if note:
        evidence.append(note)
    if not rules:
        return missing(_BUILD, "au.LastWaitTimeout and au.last_search_success", facts.errors, "au")
    worst = max((status for status, _ in rules), key=lambda status: status.rank)
    if worst is Status.FAIL:
        return _BUILD.fail("Detection is stalled: the client is not reaching WUServer.", evidence)
    if worst is Status.WARN:
        return _BUILD.warn(
            "Detection looks stalled: the client may not be reaching WUServer.", evidence
        )
    if worst is Status.UNKNOWN:
        return _BUILD.unknown("Could not read the detection times.", evidence)
    return _BUILD.passed("Detection runs normally.", evidence)


CHECK = Check(META, evaluate)
