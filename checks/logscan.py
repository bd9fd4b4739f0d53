"""Failing self-update traffic in IIS W3C logs (Cc708554 §5; docs/catalogue.md, W3C extended log).

:func:`scan` folds parsed records into a :class:`ScanResult`: per ``(client IP, path,
status)`` a count with first and last times, for requests to the self-update paths that
were answered with a failing status. Memory grows with the number of distinct groups,
never with the number of lines.

The authentication handshake rule. NTLM and Negotiate answer the first request(s) of a
connection with 401 and the retried request with 200, so a 401 is a failure only when no
success follows it. For each client and path, consecutive 401s form a *run*; the run is an
authentication handshake (dropped, counted in ``handshakes``) when the next request of
that client to that path succeeds (2xx or 304) within :data:`HANDSHAKE_WINDOW` of the
run's first 401 and the run holds at most :data:`HANDSHAKE_MAX_401` answers. Anything
else (another status, a later success, a longer run) turns the run into reported 401
failures. A run still open when the input ends is reported, but it stays open inside the
result: resuming the scan with the next part of the log (``resume=``) settles it exactly
as a scan of the whole log would, so incremental reads give the same answer.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from checks.w3c import ParseStats, W3CRecord, iter_records, open_log

#: lower-case stem prefixes of the self-update traffic (seed §5, §6, §7)
SELFUPDATE_PATHS: tuple[str, ...] = (
    "/wutrack.bin",
    "/selfupdate/",
    "/iuident.cab",
    "/clientwebservice/",
)

FAILING_STATUSES: frozenset[int] = frozenset({401, 403, 404, 500, 503})

#: a handshake's success arrives within this time of its first 401 (IIS logs whole seconds)
HANDSHAKE_WINDOW = timedelta(seconds=60)
#: NTLM needs two 401s (anonymous attempt, challenge); Negotiate fallback may add one
HANDSHAKE_MAX_401 = 3


def is_selfupdate_path(stem: str) -> bool:
    """Whether a ``cs-uri-stem`` belongs to the self-update traffic (case-insensitive)."""
    return stem.lower().startswith(SELFUPDATE_PATHS)


def is_success(status: int | None) -> bool:
    return status is not None and (200 <= status < 300 or status == 304)


_MEANINGS: dict[int, str] = {
    401: "authentication required: anonymous access is off on the site, ClientWebService "
    "or Selfupdate, or SharePoint intercepts the path (seed §6)",
    403: "forbidden: IIS configuration (IP restriction, SSL or client certificate "
    "required) or SharePoint intercepting the path",
    404: "not found: the Selfupdate virtual directory or the file is missing (self-update "
    "tree not installed on the port-80 site, or not WSUS at all)",
    500: "internal server error in the WSUS web application",
    503: "service unavailable: the application pool (usually WsusPool) is stopped, often "
    "after hitting its private memory limit",
}

_SUB_MEANINGS: dict[tuple[int, int], str] = {
    (401, 1): "logon failed (bad credentials)",
    (401, 2): "logon failed: the server offers no authentication the client used "
    "(anonymous access disabled)",
    (401, 3): "denied by the file ACL",
    (403, 4): "SSL required",
    (403, 6): "client IP address rejected",
    (403, 7): "client certificate required",
    (404, 3): "no MIME map for the extension (.cab/.bin not served)",
    (500, 19): "invalid IIS configuration (web.config)",
    (500, 24): "ASP.NET impersonation configured for an integrated-pipeline application pool",
}


def explain_status(status: int, substatus: int | None = None) -> str:
    """One line saying what an answer on a self-update path usually means."""
    code = f"{status}.{substatus}" if substatus else str(status)
    meaning = _MEANINGS.get(status, "unexpected answer")
    detail = _SUB_MEANINGS.get((status, substatus)) if substatus else None
    return f"HTTP {code}: {meaning}" + (f"; {detail}" if detail else "")


@dataclass(frozen=True, slots=True)
class Failure:
    """Failing answers one client got on one path with one status."""

    client_ip: str
    path: str
    status: int
    count: int
    first_seen: datetime
    last_seen: datetime
    #: the most frequent ``sc-substatus`` of the group (None when never logged or 0)
    substatus: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "client_ip": self.client_ip,
            "path": self.path,
            "status": self.status,
            "count": self.count,
            "first_seen": _iso(self.first_seen),
            "last_seen": _iso(self.last_seen),
        }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(slots=True)
class _Group:
    count: int
    first: datetime
    last: datetime
    substatuses: Counter[int] = field(default_factory=Counter)

    def add(self, moment: datetime, substatus: int | None, count: int = 1) -> None:
        self.count += count
        self.first = min(self.first, moment)
        self.last = max(self.last, moment)
        if substatus:
            self.substatuses[substatus] += count

    def absorb(self, other: _Group) -> None:
        self.count += other.count
        self.first = min(self.first, other.first)
        self.last = max(self.last, other.last)
        self.substatuses.update(other.substatuses)

    def copy(self) -> _Group:
        return _Group(self.count, self.first, self.last, Counter(self.substatuses))


def _new_group(moment: datetime, substatus: int | None) -> _Group:
    group = _Group(1, moment, moment)
    if substatus:
        group.substatuses[substatus] = 1
    return group


_GroupKey = tuple[str, str, int]
_RunKey = tuple[str, str]


class ScanResult:
    """The running aggregate of one or more scans; resume it with the next log part."""

    def __init__(self) -> None:
        self.files: list[str] = []
        self.lines = 0
        self.requests = 0
        self.selfupdate_requests = 0
        #: every status answered on the self-update paths (failing or not)
        self.status_counts: Counter[int] = Counter()
        #: 401 runs recognised as authentication handshakes and not reported
        self.handshakes = 0
        #: what the parser refused, by reason (when the scan was given its ParseStats)
        self.skipped: Counter[str] = Counter()
        self._groups: dict[_GroupKey, _Group] = {}
        self._open_runs: dict[_RunKey, _Group] = {}
        #: the first spelling seen of each path, keyed by its lower-case form
        self._spelling: dict[str, str] = {}

    def add(self, record: W3CRecord) -> None:
        """Fold one request into the groups (line and request totals are the caller's)."""
        stem = record.uri_stem
        path = stem.lower()
        if not path.startswith(SELFUPDATE_PATHS):
            return
        self.selfupdate_requests += 1
        status = record.status
        if status is None:
            return
        self.status_counts[status] += 1
        if path not in self._spelling:
            self._spelling[path] = stem
        moment = record.time
        run_key = (record.client_ip, path)
        run = self._open_runs.get(run_key)
        if run is not None:
            in_window = moment - run.first <= HANDSHAKE_WINDOW
            if status == 401 and in_window:
                run.add(moment, record.substatus)
                return
            if is_success(status) and in_window and run.count <= HANDSHAKE_MAX_401:
                del self._open_runs[run_key]
                self.handshakes += 1
                return
            del self._open_runs[run_key]
            self._merge((record.client_ip, path, 401), run)
        if status == 401:
            self._open_runs[run_key] = _new_group(moment, record.substatus)
        elif status in FAILING_STATUSES:
            group = self._groups.get((record.client_ip, path, status))
            if group is None:
                self._groups[(record.client_ip, path, status)] = _new_group(
                    moment, record.substatus
                )
            else:
                group.add(moment, record.substatus)

    def _merge(self, key: _GroupKey, group: _Group) -> None:
        existing = self._groups.get(key)
        if existing is None:
            self._groups[key] = group
        else:
            existing.absorb(group)

    @property
    def failures(self) -> list[Failure]:
        """Reported failures (open 401 runs included), by count desc, then client IP."""
        groups = {key: group.copy() for key, group in self._groups.items()}
        for (client_ip, path), run in self._open_runs.items():
            key = (client_ip, path, 401)
            if key in groups:
                groups[key].absorb(run)
            else:
                groups[key] = run.copy()
        failures = [
            Failure(
                client_ip=client_ip,
                path=self._spelling.get(path, path),
                status=status,
                count=group.count,
                first_seen=group.first,
                last_seen=group.last,
                substatus=group.substatuses.most_common(1)[0][0] if group.substatuses else None,
            )
            for (client_ip, path, status), group in groups.items()
        ]
        failures.sort(key=lambda f: (-f.count, f.client_ip, f.path.lower(), f.status))
        return failures

    def to_json(self) -> dict[str, Any]:
        return {
            "files": list(self.files),
            "lines": self.lines,
            "requests": self.requests,
            "failures": [failure.to_json() for failure in self.failures],
        }


def scan(
    records: Iterable[W3CRecord],
    *,
    stats: ParseStats | None = None,
    resume: ScanResult | None = None,
) -> ScanResult:
    """Aggregate failing self-update requests.

    ``stats``: the :class:`ParseStats` the records' parser filled (fresh for this call);
    its line, request and skip counts then become the result's. Without it, each record
    counts as one line and one request. ``resume``: continue that result (updated in place
    and returned), e.g. with the next part of an incrementally read log.
    """
    result = resume if resume is not None else ScanResult()
    seen = 0
    add = result.add
    for record in records:
        seen += 1
        add(record)
    if stats is None:
        result.lines += seen
        result.requests += seen
    else:
        result.lines += stats.lines
        result.requests += stats.requests
        result.skipped.update(stats.skipped)
    return result


def scan_lines(
    lines: Iterable[str],
    *,
    source: str = "",
    resume: ScanResult | None = None,
) -> ScanResult:
    """Parse and scan W3C text lines (only self-update requests are decoded in full)."""
    stats = ParseStats()
    records = iter_records(lines, source=source, stats=stats, stem_prefixes=SELFUPDATE_PATHS)
    return scan(records, stats=stats, resume=resume)


def scan_files(
    paths: Sequence[str | os.PathLike[str]], *, resume: ScanResult | None = None
) -> ScanResult:
    """Scan log files in the order given (oldest first; plain or gzip'd).

    Each file starts with no ``#Fields`` layout (IIS writes its header into every file).
    A file that is missing or cannot be opened raises :class:`OSError`.
    """
    result = resume if resume is not None else ScanResult()
    for path in paths:
        stats = ParseStats()
        name = os.fspath(path)
        records = iter_records(
            open_log(path, stats=stats),
            source=name,
            stats=stats,
            stem_prefixes=SELFUPDATE_PATHS,
        )
        scan(records, stats=stats, resume=result)
        result.files.append(name)
    return result
