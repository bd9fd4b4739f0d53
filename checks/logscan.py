"""Failing self-update traffic in IIS W3C logs (Cc708554 §5; docs/catalogue.md, W3C extended log).

:func:`scan` folds parsed records into a :class:`ScanResult`: per ``(client IP, path,
status)`` a count with first and last times, for requests to the self-update paths that
were answered with a failing status. Memory grows with the number of distinct groups,
never with the number of lines.

The authentication handshake rule. NTLM and Negotiate answer the first request(s) of a
connection with 401 and the retried request with 200, so a 401 is a failure only when no
success follows it. A healthy exchange is logged as ``401 2 5`` (the anonymous first
request), ``401 1 2148074254`` (the challenge, SEC_E_NO_CREDENTIALS) and ``200 0 0``, in
that order, in the same second or, when a user types credentials, a little later (Microsoft
KB 907273 shows ``401 2``/``401 1`` at 20:37:42 and the ``200`` at 20:38:36,
https://support.microsoft.com/help/907273; the ``401 2 5`` first leg: "Windows
Authentication HTTP Request Flow in IIS",
https://techcommunity.microsoft.com/t5/IIS-Support-Blog/Windows-Authentication-HTTP-Request-Flow-in-IIS/ba-p/324645).
For each client and path, consecutive 401s form a *run*; the run is an authentication
handshake (dropped, counted in ``handshakes``) when the next request of that client to
that path succeeds (2xx or 304) at or after the run's first 401 and within
:data:`HANDSHAKE_WINDOW` of it (only a non-negative gap counts: a success logged earlier
than the 401 never excuses it), and the run holds at most :data:`HANDSHAKE_MAX_401`
answers. Anything else (another status, a later success, a longer run) turns the run into
reported 401 failures. A run still open when the input ends is reported, but it stays open
inside the result: resuming the scan with the next part of the log (``resume=``) settles
it exactly as a scan of the whole log would, so incremental reads give the same answer.

Order. The rule reads each stream in log order (IIS appends lines as requests complete).
:func:`scan_files` therefore orders the files it is given by their first timestamp (then
by name), so the result does not depend on the order of the arguments; files that overlap
in time (two sites' logs) are read one after the other, which can only report more
failures (a success never excuses a 401 logged after it), never hide one.

W3C ``date``/``time`` are UTC (:mod:`checks.w3c`), so first/last seen are UTC too.

Left out: requests from :attr:`ScanResult.ignored_client_ips` (the bot's own source
addresses, ``[runner] bot_source_addresses``) and requests whose ``cs(User-Agent)`` is the
bot's own (:data:`BOT_USER_AGENT_PREFIX`): the bot's HTTP probes are not a client.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from checks.w3c import ParseStats, W3CRecord, iter_log_records, iter_records, open_log

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
_NO_GAP = timedelta(0)

#: files this large are searched with a second process by default (:func:`scan_files`)
PIPELINE_FROM = 32 * 1024 * 1024

#: the bot's HTTP probes send ``User-Agent: wsusbot-probe/<n>`` (handlers/http.py); IIS
#: logs it in ``cs(User-Agent)``, a default field since IIS 7 (docs/catalogue.md)
BOT_USER_AGENT_PREFIX = "wsusbot-probe/"


def normalize_ip(address: str) -> str:
    """Lower-case, without an IPv6 zone: IIS logs link-local clients as
    ``fe80::e3a4:2b81:92b4:c6e7%11`` (Microsoft support article "Unable to connect to WSUS
    Administration Website", KB 2737219, MicrosoftDocs/SupportArticles-docs
    support/windows-server/installing-updates-features-roles/cannot-connect-to-wsus-administration-website.md)."""
    return address.strip().lower().split("%", 1)[0]


def is_selfupdate_path(stem: str) -> bool:
    """Whether a ``cs-uri-stem`` belongs to the self-update traffic (case-insensitive)."""
    return stem.lower().startswith(SELFUPDATE_PATHS)


def is_success(status: int | None) -> bool:
    return status is not None and (200 <= status < 300 or status == 304)


# Sub-status meanings: "HTTP status codes in IIS" (KB 943891),
# https://learn.microsoft.com/en-us/troubleshoot/developer/webapps/iis/health-diagnostic-performance/http-status-code
# (MicrosoftDocs/SupportArticles-docs, .../health-diagnostic-performance/http-status-code.md);
# what each means for the self-update paths is ours (noted where it rests on another source).
_MEANINGS: dict[int, str] = {
    401: "authentication required: anonymous access is off on the site, ClientWebService "
    "or Selfupdate, or SharePoint intercepts the path (seed §6)",
    403: "forbidden: IIS configuration (IP restriction, SSL or client certificate "
    "required) or SharePoint intercepting the path",
    404: "not found: the Selfupdate virtual directory or the file is missing (self-update "
    "tree not installed on the port-80 site, or not WSUS at all)",
    500: "internal server error in the WSUS web application",
    503: "service unavailable: the application pool (usually WsusPool) is stopped, often "
    "after hitting its private memory limit, or overloaded (a stopped pool's 503s are "
    "written by HTTP.sys to the HTTPERR log, not to this one)",
}

_SUB_MEANINGS: dict[tuple[int, int], str] = {
    (401, 1): "logon failed (also the second, challenge leg of a normal NTLM exchange)",
    (401, 2): "logon failed due to server configuration: the request was anonymous and "
    "anonymous access is off (also the first leg of a normal NTLM exchange)",
    (401, 3): "unauthorized due to the ACL on the resource (NTFS permissions)",
    (403, 4): "SSL required",
    (403, 6): "client IP address rejected",
    (403, 7): "client certificate required",
    (403, 14): "directory listing denied",
    (403, 503): "IP restriction: the client address is on the deny list",
    (404, 0): "the file does not exist or was moved",
    (404, 2): "ISAPI or CGI restriction",
    (404, 3): "MIME type restriction: no MIME map for the extension (.cab/.bin not served)",
    (404, 7): "file extension denied by request filtering",
    (404, 8): "hidden namespace denied by request filtering",
    (500, 0): "module or ISAPI error",
    (500, 19): "configuration data is invalid (applicationHost.config or web.config)",
    # WSUS: ASP.NET Impersonation enabled on the WSUS Administration site or its vdirs
    # (KB 2737219, cannot-connect-to-wsus-administration-website.md above)
    (500, 24): "ASP.NET impersonation configured for an integrated-pipeline application "
    "pool (disable ASP.NET Impersonation on the WSUS site and its vdirs)",
    (503, 0): "application pool unavailable (stopped or disabled)",
    (503, 2): "concurrent request limit exceeded (appConcurrentRequestLimit)",
    (503, 3): "ASP.NET queue full",
}


def status_code(status: int, substatus: int | None) -> str:
    """``500.24`` (IIS writes the sub-status in ``sc-substatus``), or ``500`` when the
    layout has no ``sc-substatus`` field."""
    return str(status) if substatus is None else f"{status}.{substatus}"


def explain_status(status: int, substatus: int | None = None) -> str:
    """One line saying what an answer on a self-update path usually means."""
    code = status_code(status, substatus)
    meaning = _MEANINGS.get(status, "unexpected answer")
    detail = _SUB_MEANINGS.get((status, substatus)) if substatus is not None else None
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
    #: the most frequent ``sc-substatus`` of the group (None when the layout has none)
    substatus: int | None = None
    #: every ``sc-substatus`` of the group with its count, most frequent first
    substatuses: tuple[tuple[int, int], ...] = ()

    @property
    def code(self) -> str:
        return status_code(self.status, self.substatus)

    def to_json(self) -> dict[str, Any]:
        return {
            "client_ip": self.client_ip,
            "path": self.path,
            "status": self.status,
            "substatus": self.substatus,
            "code": self.code,
            "substatuses": {str(sub): count for sub, count in self.substatuses},
            "count": self.count,
            "first_seen": _iso(self.first_seen),
            "last_seen": _iso(self.last_seen),
            "meaning": explain_status(self.status, self.substatus),
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
        if substatus is not None:
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
    if substatus is not None:
        group.substatuses[substatus] = 1
    return group


_GroupKey = tuple[str, str, int]
_RunKey = tuple[str, str]


class ScanResult:
    """The running aggregate of one or more scans; resume it with the next log part."""

    def __init__(self, *, ignored_client_ips: Iterable[str] = ()) -> None:
        self.files: list[str] = []
        #: files (of :func:`scan_files`) with no ``#Fields`` directive: nothing in them
        #: could be read, which must not look like a clean log
        self.files_without_fields: list[str] = []
        self.lines = 0
        self.requests = 0
        self.selfupdate_requests = 0
        #: every status answered on the self-update paths (failing or not)
        self.status_counts: Counter[int] = Counter()
        #: the same answers by status and sub-status (``"401.2"``; ``"401"`` when the
        #: layout has no ``sc-substatus``)
        self.code_counts: Counter[str] = Counter()
        #: 401 runs recognised as authentication handshakes and not reported
        self.handshakes = 0
        #: what the parser refused, by reason (when the scan was given its ParseStats)
        self.skipped: Counter[str] = Counter()
        #: client addresses left out (normalized, :func:`normalize_ip`)
        self.ignored_client_ips: frozenset[str] = frozenset(
            normalize_ip(ip) for ip in ignored_client_ips
        )
        #: self-update requests left out: the bot's own (address or user agent)
        self.ignored_requests = 0
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
        if record.user_agent.lower().startswith(BOT_USER_AGENT_PREFIX) or (
            self.ignored_client_ips and normalize_ip(record.client_ip) in self.ignored_client_ips
        ):
            self.ignored_requests += 1
            return
        self.selfupdate_requests += 1
        status = record.status
        if status is None:
            return
        self.status_counts[status] += 1
        self.code_counts[status_code(status, record.substatus)] += 1
        if path not in self._spelling:
            self._spelling[path] = stem
        moment = record.time
        run_key = (record.client_ip, path)
        run = self._open_runs.get(run_key)
        if run is not None:
            # only a non-negative gap counts: a success (or 401) logged before the run's
            # first 401 is not part of this exchange, whatever the input order
            in_window = _NO_GAP <= moment - run.first <= HANDSHAKE_WINDOW
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
                substatuses=tuple(
                    sorted(group.substatuses.items(), key=lambda item: (-item[1], item[0]))
                ),
            )
            for (client_ip, path, status), group in groups.items()
        ]
        failures.sort(key=lambda f: (-f.count, f.client_ip, f.path.lower(), f.status))
        return failures

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "files": list(self.files),
            "files_without_fields": list(self.files_without_fields),
            "lines": self.lines,
            "requests": self.requests,
            "skipped_lines": self.skipped_total,
            "skipped": dict(sorted(self.skipped.items())),
            "selfupdate_requests": self.selfupdate_requests,
            "ignored_requests": self.ignored_requests,
            "handshakes": self.handshakes,
            "answers": dict(sorted(self.code_counts.items())),
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
    ignored_client_ips: Iterable[str] = (),
) -> ScanResult:
    """Parse and scan W3C text lines (only self-update requests are decoded in full)."""
    stats = ParseStats()
    records = iter_records(lines, source=source, stats=stats, stem_prefixes=SELFUPDATE_PATHS)
    result = resume if resume is not None else ScanResult(ignored_client_ips=ignored_client_ips)
    return scan(records, stats=stats, resume=result)


def first_timestamp(path: str | os.PathLike[str]) -> datetime | None:
    """The time of a log file's first request (None when it has none): the file's place
    in time for :func:`scan_files`. Reads only up to that line."""
    records = iter_records(open_log(path), stats=ParseStats())
    try:
        first = next(records, None)
    finally:
        # a generator: closing it closes the file now rather than at collection
        close = getattr(records, "close", None)
        if close is not None:
            close()
    return first.time if first is not None else None


def _time_order(paths: Sequence[str | os.PathLike[str]]) -> list[str]:
    keyed = []
    for path in paths:
        name = os.fspath(path)
        moment = first_timestamp(name)
        keyed.append((moment is None, moment or datetime.min.replace(tzinfo=UTC), name))
    return [name for _, _, name in sorted(keyed)]


def scan_files(
    paths: Sequence[str | os.PathLike[str]],
    *,
    resume: ScanResult | None = None,
    ignored_client_ips: Iterable[str] = (),
    pipeline: bool | None = None,
) -> ScanResult:
    """Scan log files (plain or gzip'd) in time order, whatever the order given.

    ``pipeline``: share the search of each file with a second process while this one also
    parses and aggregates (:func:`checks.w3c.iter_log_records`); the default does so for
    files of :data:`PIPELINE_FROM` bytes or more, where the process start-up is worth it.
    The result is the same either way.

    Files are read in the order of their first request's time, then name (files without
    any request last); ``result.files`` lists them in that order. Each file starts with no
    ``#Fields`` layout (IIS writes its header into every file); a file without one is
    listed in ``files_without_fields``. A file that is missing or cannot be opened raises
    :class:`OSError`.
    """
    result = resume if resume is not None else ScanResult(ignored_client_ips=ignored_client_ips)
    for name in _time_order(paths):
        stats = ParseStats()
        # read as bytes: only the lines that may be self-update requests are decoded
        piped = os.path.getsize(name) >= PIPELINE_FROM if pipeline is None else pipeline
        records = iter_log_records(
            name,
            source=name,
            stats=stats,
            stem_prefixes=SELFUPDATE_PATHS,
            line_numbers=False,
            pipeline=piped,
        )
        scan(records, stats=stats, resume=result)
        result.files.append(name)
        if stats.layouts == 0:
            result.files_without_fields.append(name)
    return result
