"""server.stale_clients: no WSUS clients that stopped syncing or never self-updated (§1, §2).

Reads the embedded ``wsusbot.wsus_computers/1`` document. A fleet can hold thousands of
computers, so the evidence gives counts per bucket and only the first names of each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from checks._support import as_utc, missing, probe_errors, quote_names
from checks.computers import AgentState, SyncState, classify_notable
from checks.facts import ServerFacts, WsusComputer
from checks.model import (
    Check,
    CheckContext,
    CheckMeta,
    Finding,
    FindingBuilder,
    Severity,
    Thresholds,
)

META = CheckMeta(
    id="server.stale_clients",
    role="server",
    title="WSUS clients sync and run a current agent",
    severity=Severity.MEDIUM,
    seed=("§1", "§2"),
    reads=(
        "wsus_computers.computers[].last_sync_time",
        "wsus_computers.computers[].client_version",
    ),
    remediation=(
        "Run `/wsus check <client>` on the listed computers: a client that stopped syncing "
        "usually cannot reach the server or has a stalled Automatic Updates state, and one "
        "with an old agent has not self-updated. Computers that no longer exist should be "
        "removed from the WSUS console."
    ),
    fix=None,
    description="Checks the WSUS inventory for clients whose last sync is old or missing, "
    "or whose agent version is below the minimum.",
)

_BUILD = FindingBuilder(META)


@dataclass
class _Buckets:
    never: list[str] = field(default_factory=list)
    #: (age in days, name), sorted oldest first when reported
    over_fail: list[tuple[float, str]] = field(default_factory=list)
    over_warn: list[tuple[float, str]] = field(default_factory=list)
    sus_era: list[str] = field(default_factory=list)
    outdated: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    #: computers whose sync time cannot be read (a subset of ``unreadable``)
    bad_sync: list[str] = field(default_factory=list)


def _sort(computers: list[WsusComputer], now: datetime, limits: Thresholds) -> _Buckets:
    buckets = _Buckets()
    for _computer, state in classify_notable(computers, now, limits):
        name = state.name
        if state.sync is SyncState.NEVER:
            buckets.never.append(name)
        elif state.sync is SyncState.UNREADABLE:
            buckets.unreadable.append(name)
            buckets.bad_sync.append(name)
        elif state.sync is SyncState.STALE and state.sync_age_days is not None:
            buckets.over_fail.append((state.sync_age_days, name))
        elif state.sync is SyncState.BEHIND and state.sync_age_days is not None:
            buckets.over_warn.append((state.sync_age_days, name))
        if state.agent is AgentState.SUS_ERA:
            buckets.sus_era.append(name)
        elif state.agent is AgentState.OLD:
            buckets.outdated.append(name)
        elif state.agent is AgentState.UNREADABLE:
            buckets.unreadable.append(name)
    return buckets


def _oldest_first(entries: list[tuple[float, str]]) -> list[str]:
    return [f"{name} ({age:.0f} d)" for age, name in sorted(entries, reverse=True)]


def evaluate(facts: ServerFacts, ctx: CheckContext) -> Finding:
    document = facts.wsus_computers
    if document is None:
        return missing(_BUILD, "wsus_computers", facts.errors, "wsus_computers")
    if document.computers is None:
        evidence = ["wsus_computers.computers is missing from the facts"]
        evidence += probe_errors(document.errors)
        evidence += probe_errors(facts.errors, "wsus_computers")
        return _BUILD.unknown("Could not read the WSUS computer inventory.", evidence)
    computers = document.computers
    if not computers:
        return _BUILD.passed("The WSUS inventory holds no computers.", ["0 computers"])
    limits = ctx.thresholds
    b = _sort(computers, as_utc(ctx.now), limits)
    rows: list[tuple[str, list[str]]] = [
        ("never synced", sorted(b.never)),
        (f"last sync over {limits.stale_fail_days} days ago", _oldest_first(b.over_fail)),
        (
            f"last sync {limits.stale_warn_days}-{limits.stale_fail_days} days ago",
            _oldest_first(b.over_warn),
        ),
        (f"SUS-era agent (below {limits.sus_era_below_version})", sorted(b.sus_era)),
        (f"agent below {limits.min_client_version}", sorted(b.outdated)),
        ("unreadable sync time or version", sorted(set(b.unreadable))),
    ]
    evidence = [f"{len(computers)} computers in the inventory"]
    evidence += [f"{label}: {len(names)} — {quote_names(names)}" for label, names in rows if names]
    failing = len(b.never) + len(b.over_fail) + len(b.sus_era)
    warning = len(b.over_warn) + len(b.outdated)
    if failing:
        return _BUILD.fail(
            f"{failing} of {len(computers)} clients have not synced for over "
            f"{limits.stale_fail_days} days, never synced, or run a SUS-era agent.",
            evidence,
        )
    if warning:
        return _BUILD.warn(
            f"{warning} of {len(computers)} clients are behind (no sync for over "
            f"{limits.stale_warn_days} days, or an agent below {limits.min_client_version}).",
            evidence,
        )
    if len(b.bad_sync) == len(computers):
        return _BUILD.unknown("No computer in the inventory has a readable sync time.", evidence)
    return _BUILD.passed(
        f"All {len(computers)} clients synced within {limits.stale_warn_days} days.", evidence
    )


CHECK = Check(META, evaluate)
