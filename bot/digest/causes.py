"""Why a client's self-update is stalled: the causes a digest groups hosts by.

Each explanation paraphrases the seed procedure: §1/§2 (clients that cannot or did not
self-update), §5 (the server's IIS log shows why self-update requests failed), §9/§10
(detection that never completes, and resetting the Automatic Updates state).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime


class Cause(enum.StrEnum):
    """Stable ids: stored per digest run (the trend) and written to the CSV."""

    STALE_SYNC = "stale_sync"
    OLD_AGENT = "old_agent"
    IIS_FAILURES = "iis_failures"
    DETECTION_STALLED = "detection_stalled"
    RESET_NOT_RECOVERED = "reset_not_recovered"


TITLES: Mapping[Cause, str] = {
    Cause.STALE_SYNC: "Not syncing with WSUS",
    Cause.OLD_AGENT: "Agent never self-updated",
    Cause.IIS_FAILURES: "Self-update requests failing on the server",
    Cause.DETECTION_STALLED: "Detection stalled",
    Cause.RESET_NOT_RECOVERED: "AU state reset did not help",
}

EXPLANATIONS: Mapping[Cause, str] = {
    Cause.STALE_SYNC: (
        "The WSUS inventory shows no recent sync (or none ever). A client that cannot "
        "reach its server, or whose Automatic Updates never starts a detection, also "
        "never gets the chance to update itself."
    ),
    Cause.OLD_AGENT: (
        "The agent is older than the minimum version: the client still runs an Automatic "
        "Updates build that has not been replaced by the WSUS-compatible one, so its "
        "self-update from the server's port-80 Selfupdate tree has not happened."
    ),
    Cause.IIS_FAILURES: (
        "The server's IIS log shows this client's requests for wutrack.bin, the Selfupdate "
        "tree, iuident.cab or ClientWebService answered with errors: 404 (file or "
        "virtual directory missing), 401/403 (authentication or access refused), 500 or "
        "503 (the WSUS site or its application pool is failing)."
    ),
    Cause.DETECTION_STALLED: (
        "The client's last check found its detection stalled: LastWaitTimeout keeps "
        "moving forward by a day or more, which means Automatic Updates could not "
        "contact the server named in WUServer."
    ),
    Cause.RESET_NOT_RECOVERED: (
        "The Automatic Updates state was reset (AUState 2, LastWaitTimeout and "
        "DetectionStartTime removed, service restarted), yet the follow-up check found "
        "the client still not self-updating within the expected minutes."
    ),
}

#: the order causes are shown in (the cheapest to confirm first)
ORDER: tuple[Cause, ...] = (
    Cause.IIS_FAILURES,
    Cause.DETECTION_STALLED,
    Cause.RESET_NOT_RECOVERED,
    Cause.OLD_AGENT,
    Cause.STALE_SYNC,
)


#: host names a digest message lists per cause before "… and N more" (then a CSV follows)
NAMES_PER_CAUSE = 15


@dataclass(frozen=True, slots=True)
class Sighting:
    """One host under one cause, with what shows it."""

    host: str
    cause: Cause
    detail: str
    server: str | None = None
    #: larger is worse within the cause (age in days, failure count, ...)
    weight: float = 0.0


@dataclass(frozen=True, slots=True)
class ServerNotRead:
    server: str
    reason: str


@dataclass
class Digest:
    """Everything one digest run found; the message and the CSV are built from it."""

    digest_id: str
    generated_at: datetime
    sightings: dict[Cause, list[Sighting]] = field(default_factory=dict)
    servers_read: list[str] = field(default_factory=list)
    not_read: list[ServerNotRead] = field(default_factory=list)
    #: hosts the inventory resolves: the only ones a "Check" button can run against
    checkable: frozenset[str] = frozenset()
    computers_seen: int = 0
    #: the hosts in each bucket, so a sighting is deduplicated in O(1), not by a scan
    _hosts: dict[Cause, set[str]] = field(default_factory=dict, repr=False, compare=False)

    def add(self, sightings: Iterable[Sighting]) -> None:
        """Keep the first sighting of each host under each cause."""
        for sighting in sightings:
            cause = sighting.cause
            bucket = self.sightings.setdefault(cause, [])
            hosts = self._hosts.get(cause)
            if hosts is None or len(hosts) != len(bucket):
                # first use, or the bucket was filled directly: (re)learn its hosts
                hosts = self._hosts[cause] = {s.host for s in bucket}
            if sighting.host not in hosts:
                hosts.add(sighting.host)
                bucket.append(sighting)

    def hosts(self, cause: Cause) -> list[Sighting]:
        """Sightings of one cause, worst first, then by name."""
        return sorted(self.sightings.get(cause, []), key=lambda s: (-s.weight, s.host))

    @property
    def stalled(self) -> dict[str, set[Cause]]:
        found: dict[str, set[Cause]] = {}
        for cause, sightings in self.sightings.items():
            for sighting in sightings:
                found.setdefault(sighting.host, set()).add(cause)
        return found

    def by_host(self) -> dict[str, list[Sighting]]:
        found: dict[str, list[Sighting]] = {}
        for cause in ORDER:
            for sighting in self.hosts(cause):
                found.setdefault(sighting.host, []).append(sighting)
        return found

    def top_hosts(self, count: int) -> list[str]:
        """Checkable hosts first (their button works), then the most causes, then name."""
        stalled = self.stalled
        ranked = sorted(stalled, key=lambda h: (h not in self.checkable, -len(stalled[h]), h))
        return ranked[:count]

    def fits_in_message(self) -> bool:
        """Whether every stalled host is named in the message (else a CSV is attached)."""
        return all(len(s) <= NAMES_PER_CAUSE for s in self.sightings.values())
