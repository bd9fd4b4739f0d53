"""client.update_log_errors: the client's update logs show no recent failures (§8).

Sources the check reads, whichever the host has:

- ``%windir%\\WindowsUpdate.log`` as text (Windows 2000 to 8.1 / Server 2012 R2). Lines
  start with the host's local date and time, tab-separated
  (``2016-09-08\\t10:48:43:109\\t 848\\t604\\tMisc\\tWARNING: Send failed with hr = 80072ee2.``,
  https://github.com/cloudbase/windows-imaging-tools/issues/53; format: KB902093,
  https://ftp.zx.net.nz/pub/archive/ftp.microsoft.com/MISC/KB/en-us/902/093.HTM). The
  service writes ``Logging initialized (build: 7.6.7600.256, tz: -0500)`` when it starts
  (https://github.com/LegacyUpdate/LegacyUpdate/issues/8): that ``tz`` (local minus UTC,
  ±HHMM) converts the times to UTC; failing that the probe's ``utc_offset_minutes``;
  failing both the times are compared as if UTC and the evidence says so (catalogue D3).
  Get-WindowsUpdateLog output, if someone wrote it there, is read too (``2019/06/05
  11:07:40.5998650`` or ``2018.10.21 12:08:49.8046643`` stamps,
  https://github.com/DCourtel/Wsus_Package_Publisher/issues/4 and
  https://oshibok.top/8024401c-oshibka-obnovleniya-windows-server-2016/); its local-time
  reading is an assumption, **not verified**.
- On Windows 10/11 and Server 2016+ that file only holds a notice: "Windows Update logs are
  now generated using ETW (Event Tracing for Windows). Please run the Get-WindowsUpdateLog
  PowerShell command to convert ETW traces into a readable WindowsUpdate.log." (docs/
  catalogue.md S25; Get-WindowsUpdateLog: "Windows Update no longer directly produces a
  WindowsUpdate.log file", https://learn.microsoft.com/powershell/module/windowsupdate/get-windowsupdatelog).
  The check never passes on that notice: it judges the ``Microsoft-Windows-
  WindowsUpdateClient/Operational`` events instead, or says ``unknown``.
- The events (``logs.windowsupdate_events``, UTC times). Ids per the provider manifest as
  listed at https://detection-wiki-dev.pages.dev/microsoft-windows-windowsupdateclient/
  (third-party listing): 25 "Windows Update failed to check for updates with error
  errorCode.", 26 "Windows Update successfully found updateCount updates.", 31 "failed to
  download an update", 34/35 "failed to install a self-update", 20 "Installation
  Failure: Windows failed to install the following update with error ..." (manifest
  channel System), 16/32/33 connection failures (System).
- ``urllog.dat`` for SUS-era agents (§8).

Error codes are named from :mod:`checks.wuerrors`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from checks import wuerrors
from checks._support import as_utc, missing, probe_errors, sentence, shorten
from checks.facts import ClientFacts, ClientLogs, LogFile, UpdateEvent, UpdateEvents
from checks.model import Check, CheckContext, CheckMeta, Finding, FindingBuilder, Severity, Status
from checks.versions import VersionError, is_below

META = CheckMeta(
    id="client.update_log_errors",
    role="client",
    title="Client update logs show no failures",
    severity=Severity.MEDIUM,
    seed=("§8",),
    reads=(
        "logs.windowsupdate_log.tail",
        "logs.windowsupdate_log.utc_offset_minutes",
        "logs.windowsupdate_events",
        "logs.urllog_dat.pingback_cached",
        "agent.wuaueng_version",
    ),
    remediation=(
        "Read the client's Windows Update log around the quoted lines (on Windows 10 and "
        "later: the Microsoft-Windows-WindowsUpdateClient/Operational event log, or run "
        "Get-WindowsUpdateLog): 0x8024xxxx and 0x8007xxxx results and WinHttp failures "
        "usually mean the server could not be reached (proxy, name resolution, firewall) "
        "or refused the request. On SUS-era clients a pingback cached in urllog.dat means "
        "the agent could not report to the server; fix connectivity, then reset the "
        "Automatic Updates state."
    ),
    fix=None,
    description="Checks WindowsUpdate.log (or, where it is only the ETW notice, the Windows "
    "Update client's operational event log) for recent failures and names the decisive "
    "error code; urllog.dat for a cached pingback on SUS-era agents.",
)

_BUILD = FindingBuilder(META)

OPERATIONAL_LOG = "Microsoft-Windows-WindowsUpdateClient/Operational"

_SELFUPDATE_WARNING = re.compile(r"WARNING:.*self-?update", re.IGNORECASE)
_CONNECTION = re.compile(
    r"WinHttp\w*.*(?:fail|error)|Send(?:Request)?\w* failed|failed to connect|"
    r"connection (?:was )?(?:refused|reset|timed out)",
    re.IGNORECASE,
)
_FATAL = re.compile(r"\bFATAL\b")
_FAILED_MARK = re.compile(r"\*FAILED\*")
#: classic ``2016-09-08\t10:48:43:109``; decoded ``2019/06/05 11:07:40.59`` or ``2018.10.21``
_TIMESTAMP = re.compile(
    r"\s*(\d{4})[-/.](\d{2})[-/.](\d{2})[\t ]+(\d{2}):(\d{2}):(\d{2})", re.ASCII
)
_TZ = re.compile(r"\btz:\s*([+-])(\d{2})(\d{2})\b", re.ASCII)
_STUB_MARK = "get-windowsupdatelog"

#: event ids that are failures (whatever their level) and what they mean
FAILURE_EVENTS: dict[int, str] = {
    16: "unable to connect to the update service",
    20: "installation failure",
    24: "uninstallation failure",
    25: "update search failed",
    31: "update download failed",
    32: "cannot connect to the server",
    33: "cannot connect to the proxy",
    34: "self-update of the client core failed",
    35: "self-update of the client auxiliary component failed",
}
#: failures that stop search, download or self-update (fail); the rest warn
BLOCKING_EVENTS = frozenset({16, 25, 31, 32, 33, 34, 35})
SEARCH_FAILED = 25
SEARCH_SUCCEEDED = 26

#: log lines quoted in the evidence; the counts cover the rest
_QUOTED_LINES = 5


@dataclass(frozen=True, slots=True)
class _Record:
    """One failing log line or event."""

    source: str
    when: datetime | None
    text: str
    codes: tuple[int, ...]
    blocking: bool
    order: int
    event_id: int | None = None


@dataclass(slots=True)
class _Verdict:
    status: Status
    evidence: list[str] = field(default_factory=list)
    summary: str | None = None
    next_step: str | None = None


_Part = tuple[Status, list[str]]


def _stamp(line: str) -> datetime | None:
    match = _TIMESTAMP.match(line)
    if match is None:
        return None
    try:
        year, month, day, hour, minute, second = (int(group) for group in match.groups())
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None


def is_etw_stub(tail: list[str]) -> bool:
    """The Windows 10+ notice instead of a log: it names Get-WindowsUpdateLog and has no
    timestamped line. NULs are dropped in case the notice was read as UTF-16."""
    text = " ".join(tail).replace("\x00", "").lower()
    return _STUB_MARK in text and not any(_stamp(line.replace("\x00", "")) for line in tail)


def _log_offset(log: LogFile) -> tuple[timedelta | None, str]:
    """Local-minus-UTC offset of the log's timestamps and where it came from."""
    for line in reversed(log.tail or []):
        match = _TZ.search(line)
        if match:
            sign = -1 if match.group(1) == "-" else 1
            minutes = int(match.group(2)) * 60 + int(match.group(3))
            shown = f"{match.group(1)}{match.group(2)}{match.group(3)}"
            return sign * timedelta(minutes=minutes), f"the log's own 'tz: {shown}'"
    if log.utc_offset_minutes is not None:
        return timedelta(minutes=log.utc_offset_minutes), (
            f"the host's UTC offset {log.utc_offset_minutes:+d} min reported by the probe"
        )
    return None, ""


def _line_record(line: str, order: int, when: datetime | None) -> _Record | None:
    codes = tuple(wuerrors.failing_codes(line))
    fatal = bool(_FATAL.search(line))
    severe = bool(_SELFUPDATE_WARNING.search(line) or _CONNECTION.search(line))
    marked = bool(_FAILED_MARK.search(line))
    if not (codes or fatal or severe or (marked and not wuerrors.find_codes(line))):
        return None
    blocking = fatal or severe or any(wuerrors.is_blocking(code) for code in codes)
    return _Record("WindowsUpdate.log", when, line, codes, blocking, order)


def _tail_records(log: LogFile, oldest: datetime) -> tuple[list[_Record], int, list[str]]:
    tail = log.tail or []
    offset, offset_source = _log_offset(log)
    records: list[_Record] = []
    old = 0
    for order, line in enumerate(tail):
        local = _stamp(line)
        when = None
        if local is not None:
            when = (local - offset if offset is not None else local).replace(tzinfo=UTC)
        record = _line_record(line, order, when)
        if record is None:
            continue
        if when is not None and when < oldest:
            old += 1
            continue
        records.append(record)
    if offset is not None:
        note = f"WindowsUpdate.log times are host-local, converted to UTC with {offset_source}"
    else:
        note = (
            "WindowsUpdate.log times are host-local and no UTC offset is known (no 'tz:' "
            "line in the tail): they are compared as if UTC, so the window may be off by "
            "the host's offset"
        )
    evidence = [
        f"WindowsUpdate.log: {len(tail)} tail lines read; {len(records)} failures within "
        "the window" + (f"; {old} older failing lines ignored" if old else ""),
        f"  ({note})",
    ]
    return records, old, evidence


def _event_time(event: UpdateEvent) -> datetime | None:
    if not event.time:
        return None
    try:
        parsed = datetime.fromisoformat(event.time.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _event_records(
    events: UpdateEvents, oldest: datetime, start: int
) -> tuple[list[_Record], list[str], datetime | None]:
    items = events.events or []
    dated = sorted(
        ((_event_time(event), event) for event in items),
        key=lambda pair: pair[0] or datetime.min.replace(tzinfo=UTC),
    )
    records: list[_Record] = []
    old = 0
    last_search_ok: datetime | None = None
    for index, (when, event) in enumerate(dated):
        if event.id == SEARCH_SUCCEEDED and when is not None:
            last_search_ok = when if last_search_ok is None else max(last_search_ok, when)
        level = (event.level or "").lower()
        if event.id not in FAILURE_EVENTS and level not in ("error", "critical"):
            continue
        message = " ".join((event.message or "").split())
        codes = tuple(wuerrors.failing_codes(message))
        if event.id not in FAILURE_EVENTS and not codes:
            continue
        if when is not None and when < oldest:
            old += 1
            continue
        blocking = event.id in BLOCKING_EVENTS or any(wuerrors.is_blocking(c) for c in codes)
        stamp = event.time or "time unknown"
        text = f"event {event.id} at {stamp} ({event.level or 'level unknown'}): {message}"
        records.append(
            _Record(f"event {event.id}", when, text, codes, blocking, start + index, event.id)
        )
    evidence = [
        f"{events.log or OPERATIONAL_LOG}: {len(items)} events read; {len(records)} failures "
        "within the window" + (f"; {old} older failures ignored" if old else "")
    ]
    return records, evidence, last_search_ok


def _judge(
    records: list[_Record], sources: str, ctx: CheckContext, last_ok: datetime | None
) -> _Verdict:
    hours = ctx.thresholds.log_error_window_hours
    if not records:
        return _Verdict(Status.PASS)
    blocking = [record for record in records if record.blocking]
    recovered = (
        bool(blocking)
        and last_ok is not None
        and all(
            record.event_id == SEARCH_FAILED and record.when is not None and record.when < last_ok
            for record in blocking
        )
    )
    status = Status.FAIL if blocking and not recovered else Status.WARN
    pairs = [(record.order, code) for record in records for code in record.codes]
    code = wuerrors.decisive(pairs)
    evidence: list[str] = []
    if code is not None:
        with_code = sum(1 for record in records if code in record.codes)
        plural = "s" if with_code != 1 else ""
        summary = (
            f"{wuerrors.describe(code)}: {with_code} failure{plural} in {hours:g} h ({sources})"
        )
        if len(records) > with_code:
            summary += f"; {len(records)} failures in all"
        entry = wuerrors.lookup(code)
        next_step = None
        if entry is not None:
            next_step = f"{entry.next_step} (reference: {wuerrors.SOURCES[entry.source]})"
        counts: dict[int, int] = {}
        for _, other in pairs:
            counts[other] = counts.get(other, 0) + 1
        others = sorted((c for c in counts if c != code), key=lambda c: (-counts[c], c))
        if others:
            evidence.append(
                "other codes: "
                + ", ".join(f"{wuerrors.describe(c)} x{counts[c]}" for c in others[:5])
            )
    else:
        plural = "s" if len(records) != 1 else ""
        what = (
            "failed self-update or connection attempts"
            if status is Status.FAIL
            else "failures without an error code"
        )
        summary = f"{len(records)} failure{plural} in {hours:g} h ({sources}): {what}"
        next_step = None
    if recovered:
        summary += (
            f"; a later search succeeded (event {SEARCH_SUCCEEDED} at "
            f"{last_ok:%Y-%m-%dT%H:%M:%SZ}), so the client has recovered"
        )
    quoted = (blocking + [r for r in records if not r.blocking])[:_QUOTED_LINES]
    evidence += [f"  {shorten(record.text, 200)}" for record in quoted]
    return _Verdict(status, evidence, summary, next_step)


def _log_part(logs: ClientLogs, ctx: CheckContext) -> _Verdict:
    window = timedelta(hours=ctx.thresholds.log_error_window_hours)
    oldest = as_utc(ctx.now) - window
    log = logs.windowsupdate_log
    events = logs.windowsupdate_events
    events_ok = events is not None and events.available is True and events.events is not None

    if log is None or log.exists is None:
        text_state = "unread"
    elif not log.exists:
        text_state = "absent"
    elif log.tail is None:
        text_state = "tail unread"
    elif is_etw_stub(log.tail):
        text_state = "stub"
    else:
        text_state = "classic"

    evidence: list[str] = []
    records: list[_Record] = []
    sources: list[str] = []
    last_ok: datetime | None = None
    path = log.path if log is not None and log.path else "%windir%\\WindowsUpdate.log"
    if text_state == "stub":
        evidence.append(
            f"WindowsUpdate.log at {path} is only the Windows 10+ notice that the logs are "
            "ETW traces (read them with Get-WindowsUpdateLog); not judged"
        )
    elif text_state == "absent":
        evidence.append(f"WindowsUpdate.log not present at {path}")
    elif text_state in ("unread", "tail unread"):
        evidence.append(
            "WindowsUpdate.log: not read"
            if text_state == "unread"
            else "WindowsUpdate.log exists but its tail was not read"
        )
    else:
        assert log is not None
        found, _, lines = _tail_records(log, oldest)
        records += found
        evidence += lines
        sources.append("WindowsUpdate.log")

    if events_ok:
        assert events is not None
        found, lines, last_ok = _event_records(events, oldest, len(records) + 10_000)
        records += found
        evidence += lines
        sources.append(events.log or OPERATIONAL_LOG)
    elif events is None:
        evidence.append(f"{OPERATIONAL_LOG}: not collected")
    elif events.available is False:
        evidence.append(f"{events.log or OPERATIONAL_LOG}: not available on this host")
    else:
        evidence.append(f"{events.log or OPERATIONAL_LOG}: could not be read")

    if not sources:
        if text_state in ("stub", "absent"):
            evidence.append(
                "how to read it: Get-WindowsUpdateLog on the client (writes WindowsUpdate.log "
                "to the desktop), or Event Viewer > Applications and Services Logs > Microsoft "
                "> Windows > WindowsUpdateClient > Operational"
            )
            return _Verdict(
                Status.UNKNOWN,
                evidence,
                "Nothing readable records this client's update attempts: WindowsUpdate.log "
                + ("is only the ETW notice" if text_state == "stub" else "is absent")
                + f" and the {OPERATIONAL_LOG} event log could not be read. Run "
                "Get-WindowsUpdateLog on the client to decode the ETW traces.",
            )
        return _Verdict(Status.UNKNOWN, evidence)
    verdict = _judge(records, " and ".join(sources), ctx, last_ok)
    verdict.evidence = evidence + verdict.evidence
    return verdict


def _urllog_part(facts: ClientFacts, ctx: CheckContext) -> _Part:
    version = facts.agent.wuaueng_version if facts.agent else None
    floor = ctx.thresholds.sus_era_below_version
    if version is None:
        return Status.SKIP, ["urllog.dat not judged: the agent version is unknown"]
    try:
        sus_era = is_below(version, floor)
    except VersionError:
        return Status.SKIP, ["urllog.dat not judged: the agent version is unreadable"]
    if not sus_era:
        return Status.SKIP, [f"urllog.dat not used: agent {version} is not SUS-era"]
    urllog = facts.logs.urllog_dat if facts.logs else None
    if urllog is None or (urllog.exists is not False and urllog.pingback_cached is None):
        return Status.UNKNOWN, [f"urllog.dat of SUS-era agent {version}: not read"]
    if urllog.exists is False:
        return Status.PASS, [f"urllog.dat not present at {urllog.path}: no cached pingback"]
    if urllog.pingback_cached:
        return Status.FAIL, [
            f"urllog.dat at {urllog.path} holds a cached pingback: the SUS-era agent "
            f"{version} could not report to its server"
        ]
    return Status.PASS, ["urllog.dat holds no cached pingback"]


def evaluate(facts: ClientFacts, ctx: CheckContext) -> Finding:
    logs = facts.logs
    if logs is None:
        return missing(_BUILD, "logs", facts.errors, "logs")
    log = _log_part(logs, ctx)
    urllog_status, urllog_evidence = _urllog_part(facts, ctx)
    evidence = log.evidence + urllog_evidence
    worst = max((log.status, urllog_status), key=lambda status: status.rank)
    if worst is Status.FAIL:
        problems = []
        if log.status is Status.FAIL and log.summary:
            problems.append(log.summary)
        if urllog_status is Status.FAIL:
            problems.append("the SUS-era agent's urllog.dat holds a pingback it could not deliver")
        return _BUILD.fail(sentence(problems), evidence, next_step=log.next_step)
    if worst is Status.WARN:
        summary = log.summary or "The client's update logs hold recent error results"
        return _BUILD.warn(sentence([summary]), evidence, next_step=log.next_step)
    if worst is Status.UNKNOWN:
        evidence += probe_errors(facts.errors, "logs")
        if log.status is Status.UNKNOWN and log.summary:
            return _BUILD.unknown(log.summary, evidence)
        return _BUILD.unknown("Could not read the client's update logs.", evidence)
    if worst is Status.SKIP:
        return _BUILD.skip("No update log applies to this client: " + "; ".join(evidence))
    return _BUILD.passed("The client's update logs show no recent failures.", evidence)


CHECK = Check(META, evaluate)
