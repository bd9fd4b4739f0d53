"""One classifier of a computer in a WSUS server's inventory: how its sync and its agent
look against the thresholds. ``server.stale_clients`` and the digest both sort computers
with it, so a check and a digest never disagree about the same computer.

Sync time and version come from the WSUS API (``IComputerTarget.LastSyncTime``,
``ClientVersion``; see docs/catalogue.md)."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from checks._support import as_utc, parse_iso_utc
from checks.facts import WsusComputer
from checks.model import Thresholds
from checks.versions import VersionError, is_below


class SyncState(enum.StrEnum):
    NEVER = "never"
    #: older than ``stale_fail_days``
    STALE = "stale"
    #: older than ``stale_warn_days``
    BEHIND = "behind"
    CURRENT = "current"
    UNREADABLE = "unreadable"


class AgentState(enum.StrEnum):
    #: below ``sus_era_below_version``: an agent that cannot talk to WSUS at all
    SUS_ERA = "sus_era"
    #: below ``min_client_version``
    OLD = "old"
    CURRENT = "current"
    #: the server reported no version
    NOT_REPORTED = "not_reported"
    UNREADABLE = "unreadable"


@dataclass(frozen=True, slots=True)
class ComputerState:
    name: str
    sync: SyncState
    #: days since the last sync; None when never synced or unreadable
    sync_age_days: float | None
    agent: AgentState
    version: str | None

    @property
    def sync_stale(self) -> bool:
        """Never synced, or not for over ``stale_warn_days``."""
        return self.sync in (SyncState.NEVER, SyncState.STALE, SyncState.BEHIND)

    @property
    def agent_old(self) -> bool:
        """Below ``min_client_version`` (SUS-era agents included)."""
        return self.agent in (AgentState.SUS_ERA, AgentState.OLD)


def computer_name(computer: WsusComputer) -> str:
    return computer.name or computer.ip or "(unnamed)"


def _sync(
    computer: WsusComputer, now: datetime, limits: Thresholds
) -> tuple[SyncState, float | None]:
    text = (computer.last_sync_time or "").strip()
    if not text:
        return SyncState.NEVER, None
    try:
        synced = parse_iso_utc(text)
    except ValueError:
        return SyncState.UNREADABLE, None
    age = (as_utc(now) - synced).total_seconds() / 86400
    if age > limits.stale_fail_days:
        return SyncState.STALE, age
    if age > limits.stale_warn_days:
        return SyncState.BEHIND, age
    return SyncState.CURRENT, age


def _agent(computer: WsusComputer, limits: Thresholds) -> tuple[AgentState, str | None]:
    return _agent_state(
        computer.client_version, limits.sus_era_below_version, limits.min_client_version
    )


#: inventories repeat a few agent versions many times: each is judged once per floor pair
@lru_cache(maxsize=4096)
def _agent_state(
    reported: str | None, sus_era_below: str, minimum: str
) -> tuple[AgentState, str | None]:
    version = (reported or "").strip()
    if not version:
        return AgentState.NOT_REPORTED, None
    try:
        if is_below(version, sus_era_below):
            return AgentState.SUS_ERA, version
        if is_below(version, minimum):
            return AgentState.OLD, version
    except VersionError:
        return AgentState.UNREADABLE, version
    return AgentState.CURRENT, version


def classify(computer: WsusComputer, now: datetime, limits: Thresholds) -> ComputerState:
    sync, age = _sync(computer, now, limits)
    agent, version = _agent(computer, limits)
    return ComputerState(computer_name(computer), sync, age, agent, version)


def classify_notable(
    computers: Iterable[WsusComputer], now: datetime, limits: Thresholds
) -> Iterator[tuple[WsusComputer, ComputerState]]:
    """Each computer that is not current on both counts, in order, with its ``classify``; the
    computers that are (most of an inventory of 100,000s) are passed over without
    building a state. The same verdicts as ``classify``: a ``Z`` stamp is judged inline
    (one ``fromisoformat``, one subtraction), anything else takes ``classify``'s path."""
    now_utc = as_utc(now)
    warn_days = limits.stale_warn_days
    sus_era_below, minimum = limits.sus_era_below_version, limits.min_client_version
    agents: dict[str | None, AgentState] = {}
    parse = datetime.fromisoformat
    current = AgentState.CURRENT
    for computer in computers:
        reported = computer.client_version
        agent = agents.get(reported)
        if agent is None:
            agent = agents[reported] = _agent_state(reported, sus_era_below, minimum)[0]
        text = computer.last_sync_time
        if agent is current and text and text[-1:] == "Z":
            try:
                synced = parse(text)
            except ValueError:
                synced = None
            if (
                synced is not None
                and synced.tzinfo is UTC
                and (now_utc - synced).total_seconds() / 86400 <= warn_days
            ):
                continue
        state = classify(computer, now_utc, limits)
        if state.sync is SyncState.CURRENT and state.agent is current:
            continue
        yield computer, state
