"""server.iis_log_errors: the IIS logs hold no failing self-update traffic (seed §5).

Reads the embedded ``wsusbot.iis_log/1`` document (the W3C lines of the self-update
paths since the last scan) and reports requests answered 401, 403, 404, 500 or 503 within
``thresholds.log_error_window_hours`` (default 72 h, ``[thresholds]``) of ``ctx.now``;
older lines are ignored. A 401 that a success from the same client on the same path
follows is an authentication handshake and not reported (``checks.logscan``).

What is current (``ctx.log_scope``): requests from the bot's own source addresses
(``[runner] bot_source_addresses``) or with the bot's user agent are left out, and when a
fix's re-check last passed on this server (``resolved_at``: a server fix whose verifying
checks all passed), failures logged before that moment are history, not current: the
window starts at the later of ``now - log_error_window_hours`` and ``resolved_at``, so a
server does not keep failing for three days after a verified fix. W3C times are UTC.

Verdict rule:

- ``fail``: any 404, 500 or 503 (the tree is missing, the application or its pool is
  broken: every client asking is affected), or at least :data:`AUTH_FAIL_REQUESTS`
  401/403 answers, or 401/403 answers to at least :data:`AUTH_FAIL_CLIENTS` clients
  (authentication is broken for the site, not for one odd client);
- ``warn``: fewer 401/403 answers than that and nothing else (one client with bad
  credentials or a proxy stripping them; worth a look, not an outage);
- ``pass``: no failing self-update request in the window;
- ``unknown``: the document is missing, has only errors, lists no log files, or none of
  its lines could be parsed.

No fix is proposed: the next step depends on the status, and the checks that look at the
configuration (``server.selfupdate_vdir``, ``server.anonymous_auth``,
``server.sharepoint_conflict``, ``server.services``) carry the fixes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from checks._support import as_utc
from checks.facts import IisLog, ServerFacts
from checks.model import (
    Check,
    CheckContext,
    CheckMeta,
    Finding,
    FindingBuilder,
    LogScope,
    Severity,
)

if TYPE_CHECKING:
    from checks.logscan import Failure, ScanResult
    from checks.w3c import ParseStats, W3CRecord

#: 401/403 answers from which authentication is considered broken, not a client's quirk
AUTH_FAIL_REQUESTS = 10
#: distinct clients refused with 401/403 from which the failure is site-wide
AUTH_FAIL_CLIENTS = 3
#: statuses that fail the check at any count
HARD_STATUSES = frozenset({404, 500, 503})
#: how many client IPs the evidence names
TOP_CLIENTS = 5

META = CheckMeta(
    id="server.iis_log_errors",
    role="server",
    title="IIS logs show no failing self-update requests",
    severity=Severity.HIGH,
    seed=("§5",),
    reads=("iis_log.lines", "iis_log.files", "iis_log.errors", "iis_log.log_dir"),
    remediation=(
        "Read the failing requests in the IIS log of the port-80 site: 404 means the "
        "self-update tree or a file is missing, 401/403 an authentication or SharePoint "
        "problem, 500 an application error, 503 a stopped application pool."
    ),
    fix=None,
    description=(
        "Checks the W3C logs since the last scan for self-update requests (/wutrack.bin, "
        "/selfupdate/, /iuident.cab, /ClientWebService/) answered 401, 403, 404, 500 or 503 "
        "within log_error_window_hours (thresholds, default 72 h) and after the last fix "
        "whose re-check passed; the bot's own probe requests are left out."
    ),
)

_BUILD = FindingBuilder(META)

#: what to do about each status, worst first
_NEXT_STEPS: tuple[tuple[int, str], ...] = (
    (
        503,
        "503: start the WsusPool application pool and raise its private memory limit if "
        "it keeps stopping (server.services).",
    ),
    (
        500,
        "500: read the Application event log and the WSUS SoftwareDistribution.log; a "
        "500.24 means ASP.NET impersonation is set on an integrated-pipeline pool.",
    ),
    (
        404,
        "404: make sure the Selfupdate virtual directory exists on the port-80 site "
        "(run InstallSelfupdateOnPort80.vbs; server.selfupdate_vdir) and that "
        "wutrack.bin and iuident.cab are in its root.",
    ),
    (
        401,
        "401: enable anonymous access on the site root, ClientWebService and Selfupdate "
        "(server.anonymous_auth); if SharePoint is installed, exclude the self-update "
        "paths (server.sharepoint_conflict).",
    ),
    (
        403,
        "403: check IP restrictions and SSL/client-certificate requirements on the "
        "self-update paths, and SharePoint managed paths (server.sharepoint_conflict).",
    ),
)


def _most_frequent_first(item: tuple[int, int]) -> tuple[int, int]:
    """Sort key for (status, count): most frequent first, ties by status."""
    status, count = item
    return -count, status


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _document_errors(doc: IisLog) -> list[str]:
    return [
        f"{error.source or 'iis_log'}: {error.message or 'unspecified error'}"
        for error in doc.errors or ()
    ]


def _missing_document(facts: ServerFacts) -> Finding:
    related = [
        f"{error.source}: {error.message or 'unspecified error'}"
        for error in facts.errors or ()
        if error.source and "iis_log" in error.source.lower()
    ]
    return _BUILD.unknown(
        "The IIS log was not collected with the server facts, so failing self-update "
        "requests cannot be counted.",
        related or ["iis_log: absent from the server facts document"],
    )


def _scan_window(
    doc: IisLog, cutoff: datetime, scope: LogScope
) -> tuple[ScanResult, ParseStats, int, int]:
    """Scan the document's lines, leaving out requests older than ``cutoff`` and, when a
    fix was verified, before ``scope.resolved_at``."""
    # the W3C parser and the scanner are imported by the server check that reads a log:
    # an offline client check (``wsusbot check HOST --facts F``) never pays for them
    from checks.logscan import SELFUPDATE_PATHS, ScanResult, scan
    from checks.w3c import ParseStats, iter_records

    stats = ParseStats()
    older = 0
    resolved = 0
    since = as_utc(scope.resolved_at) if scope.resolved_at is not None else None

    def in_window(records: Iterator[W3CRecord]) -> Iterator[W3CRecord]:
        nonlocal older, resolved
        for record in records:
            if record.time < cutoff:
                older += 1
            elif since is not None and record.time < since:
                resolved += 1
            else:
                yield record

    records = iter_records(
        doc.lines or (), source="iis_log", stats=stats, stem_prefixes=SELFUPDATE_PATHS
    )
    result = scan(
        in_window(records),
        stats=stats,
        resume=ScanResult(ignored_client_ips=scope.ignored_client_ips),
    )
    return result, stats, older, resolved


def _context_lines(
    doc: IisLog,
    stats: ParseStats,
    counts: tuple[int, int, int],
    hours: float,
    scope: LogScope,
) -> list[str]:
    older, resolved, ignored = counts
    lines: list[str] = []
    if older:
        lines.append(f"{older} older request(s) outside the {hours:g} h window ignored")
    if resolved and scope.resolved_at is not None:
        lines.append(
            f"{resolved} request(s) before the fix verified at {_iso(as_utc(scope.resolved_at))} "
            "treated as history"
        )
    if ignored:
        lines.append(f"{ignored} request(s) from the bot's own probes left out")
    if stats.skipped:
        reasons = ", ".join(f"{reason} {count}" for reason, count in stats.skipped.most_common())
        lines.append(f"{stats.skipped_total} log line(s) could not be parsed ({reasons})")
    if doc.lines and stats.layouts == 0:
        lines.append("no #Fields header in the log lines: not a W3C extended log")
    if doc.files:
        names = [file.name for file in doc.files if file.name]
        if names:
            lines.append(f"{len(names)} log file(s) in {doc.log_dir or 'the log directory'}")
    lines.extend(_document_errors(doc))
    return lines


def _status_lines(failures: list[Failure]) -> list[str]:
    from checks.logscan import explain_status

    counts: Counter[int] = Counter()
    clients: dict[int, set[str]] = {}
    substatuses: dict[int, Counter[int]] = {}
    for failure in failures:
        counts[failure.status] += failure.count
        clients.setdefault(failure.status, set()).add(failure.client_ip)
        for substatus, count in failure.substatuses:
            substatuses.setdefault(failure.status, Counter())[substatus] += count
    lines = []
    for status, count in sorted(counts.items(), key=_most_frequent_first):
        common = substatuses.get(status)
        ranked = sorted(common.items(), key=lambda item: (-item[1], item[0])) if common else []
        top = ranked[0][0] if ranked else None
        split = (
            " (" + ", ".join(f"{status}.{sub} x{n}" for sub, n in ranked) + ")"
            if len(ranked) > 1
            else ""
        )
        lines.append(
            f"{status}: {count} request(s) from {len(clients[status])} client(s){split} - "
            f"{explain_status(status, top)}"
        )
    return lines


def _client_lines(failures: list[Failure]) -> list[str]:
    by_client: dict[str, list[Failure]] = {}
    for failure in failures:
        by_client.setdefault(failure.client_ip, []).append(failure)
    ranked = sorted(by_client.items(), key=lambda item: (-sum(f.count for f in item[1]), item[0]))
    lines = []
    for client_ip, groups in ranked[:TOP_CLIENTS]:
        total = sum(group.count for group in groups)
        statuses: Counter[int] = Counter()
        for group in groups:
            statuses[group.status] += group.count
        by_status = ", ".join(
            f"{status} x{count}"
            for status, count in sorted(statuses.items(), key=_most_frequent_first)
        )
        paths = sorted({group.path for group in groups}, key=str.lower)
        shown_paths = ", ".join(paths[:3]) + (
            f" (+{len(paths) - 3} more)" if len(paths) > 3 else ""
        )
        first = min(group.first_seen for group in groups)
        last = max(group.last_seen for group in groups)
        lines.append(
            f"client {client_ip or '(no IP logged)'}: {total} failing ({by_status}) on "
            f"{shown_paths}; first {_iso(first)}, last {_iso(last)}"
        )
    if len(ranked) > TOP_CLIENTS:
        lines.append(f"... and {len(ranked) - TOP_CLIENTS} more client(s)")
    return lines


def _next_step(statuses: set[int]) -> str:
    return " ".join(text for status, text in _NEXT_STEPS if status in statuses)


def evaluate(facts: ServerFacts, ctx: CheckContext) -> Finding:
    doc = facts.iis_log
    if doc is None:
        return _missing_document(facts)
    errors = _document_errors(doc)
    if doc.lines is None or (not doc.lines and errors):
        return _BUILD.unknown(
            "The IIS log could not be read, so failing self-update requests cannot be counted.",
            errors or ["iis_log.lines: not reported"],
        )
    if not doc.lines and doc.files is not None and not doc.files:
        return _BUILD.unknown(
            f"No W3C log file was found in {doc.log_dir or 'the log directory'}; is IIS "
            "logging enabled for the port-80 site?",
            [f"log_dir: {doc.log_dir or 'not reported'}"],
        )
    hours = ctx.thresholds.log_error_window_hours
    cutoff = as_utc(ctx.now) - timedelta(hours=hours)
    scope = ctx.log_scope
    result, stats, older, resolved = _scan_window(doc, cutoff, scope)
    context = _context_lines(doc, stats, (older, resolved, result.ignored_requests), hours, scope)
    if stats.requests == 0 and stats.skipped_total > 0:
        return _BUILD.unknown(
            "None of the IIS log lines could be parsed, so failing self-update requests "
            "cannot be counted.",
            context,
        )
    failures = result.failures
    if not failures:
        answers = ", ".join(
            f"{code} x{count}" for code, count in sorted(result.code_counts.items())
        )
        evidence = [f"answers on self-update paths: {answers or 'none'}"]
        if result.handshakes:
            evidence.append(
                f"{result.handshakes} authentication handshake(s) (401 then success) "
                "not counted as failures"
            )
        since = "since the verified fix" if resolved else f"in the last {hours:g} h"
        return _BUILD.passed(
            f"{result.selfupdate_requests} self-update request(s) {since}, none failing.",
            evidence + context,
        )
    total = sum(failure.count for failure in failures)
    clients = {failure.client_ip for failure in failures}
    statuses = {failure.status for failure in failures}
    auth = [failure for failure in failures if failure.status in (401, 403)]
    auth_total = sum(failure.count for failure in auth)
    auth_clients = {failure.client_ip for failure in auth}
    by_status: Counter[int] = Counter()
    for failure in failures:
        by_status[failure.status] += failure.count
    summary = (
        f"{total} failing self-update request(s) from {len(clients)} client(s) in the last "
        f"{hours:g} h: "
        + ", ".join(f"{s} x{c}" for s, c in sorted(by_status.items(), key=_most_frequent_first))
        + "."
    )
    evidence = _status_lines(failures) + _client_lines(failures) + context
    next_step = _next_step(statuses)
    hard = bool(statuses & HARD_STATUSES)
    if hard or auth_total >= AUTH_FAIL_REQUESTS or len(auth_clients) >= AUTH_FAIL_CLIENTS:
        return _BUILD.fail(summary, evidence, next_step=next_step, fix=False)
    return _BUILD.warn(summary, evidence, next_step=next_step, fix=False)


CHECK: Check[ServerFacts] = Check(META, evaluate)
