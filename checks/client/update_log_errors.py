"""client.update_log_errors: WindowsUpdate.log and urllog.dat show no failures (§8).

WindowsUpdate.log lines start with the host's local date and time
(``2026-11-24\\t14:41:16:734\\t...``); the facts carry no UTC offset, so lines are
compared with ``ctx.now`` as written, which is good enough for a window of days.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from checks._support import as_utc, missing, probe_errors, sentence, shorten
from checks.facts import ClientFacts, ClientLogs
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
        "logs.urllog_dat.pingback_cached",
        "agent.wuaueng_version",
    ),
    remediation=(
        "Read %windir%\\WindowsUpdate.log on the client around the quoted lines: 0x8024xxxx "
        "and 0x8007xxxx results and WinHttp failures usually mean the server could not be "
        "reached (proxy, name resolution, firewall) or refused the request. On SUS-era "
        "clients a pingback cached in urllog.dat means the agent could not report to the "
        "server; fix connectivity, then reset the Automatic Updates state."
    ),
    fix=None,
    description="Checks the WindowsUpdate.log tail for recent error results, self-update "
    "warnings and connection failures, and urllog.dat for a cached pingback on SUS-era "
    "agents.",
)

_BUILD = FindingBuilder(META)

_ERROR_CODE = re.compile(r"0x(?:8024|8007)[0-9a-f]{4}", re.IGNORECASE)
_SELFUPDATE_WARNING = re.compile(r"WARNING:.*self-?update", re.IGNORECASE)
_CONNECTION = re.compile(
    r"WinHttp\w*.*(?:fail|error)|Send(?:Request)?\w* failed|failed to connect|"
    r"connection (?:was )?(?:refused|reset|timed out)",
    re.IGNORECASE,
)
_TIMESTAMP = re.compile(r"\s*(\d{4}-\d{2}-\d{2})[\t ]+(\d{2}:\d{2}:\d{2})", re.ASCII)

_Part = tuple[Status, list[str]]

#: log lines quoted in the evidence; the counts cover the rest
_QUOTED_LINES = 5


def _line_time(line: str) -> datetime | None:
    match = _TIMESTAMP.match(line)
    if match is None:
        return None
    try:
        return datetime.fromisoformat(f"{match.group(1)}T{match.group(2)}")
    except ValueError:
        return None


def _log_part(logs: ClientLogs, ctx: CheckContext) -> _Part:
    log = logs.windowsupdate_log
    if log is None or log.exists is None:
        return Status.UNKNOWN, ["WindowsUpdate.log: not read"]
    if not log.exists:
        return Status.SKIP, [
            f"WindowsUpdate.log not present at {log.path} (Windows 10 and later write ETW "
            "traces instead)"
        ]
    if log.tail is None:
        return Status.UNKNOWN, ["WindowsUpdate.log exists but its tail was not read"]
    window = timedelta(hours=ctx.thresholds.log_error_window_hours)
    oldest = as_utc(ctx.now).replace(tzinfo=None) - window
    severe: list[str] = []
    codes: list[str] = []
    old = 0
    for line in log.tail:
        is_severe = bool(_SELFUPDATE_WARNING.search(line) or _CONNECTION.search(line))
        if not (is_severe or _ERROR_CODE.search(line)):
            continue
        stamp = _line_time(line)
        if stamp is not None and stamp < oldest:
            old += 1
            continue
        (severe if is_severe else codes).append(line)
    evidence = [
        f"WindowsUpdate.log: {len(log.tail)} tail lines read; within "
        f"{ctx.thresholds.log_error_window_hours:g} h: {len(severe)} self-update/connection "
        f"failures, {len(codes)} other error results"
        + (f"; {old} older matching lines ignored" if old else "")
    ]
    quoted = (severe + codes)[:_QUOTED_LINES]
    evidence += [f"  {shorten(line, 200)}" for line in quoted]
    if severe:
        return Status.FAIL, evidence
    if codes:
        return Status.WARN, evidence
    return Status.PASS, evidence


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
    log_part, urllog_part = _log_part(logs, ctx), _urllog_part(facts, ctx)
    parts = [log_part, urllog_part]
    evidence = [line for _, lines in parts for line in lines]
    worst = max((status for status, _ in parts), key=lambda status: status.rank)
    if worst is Status.FAIL:
        problems = []
        if log_part[0] is Status.FAIL:
            problems.append("WindowsUpdate.log shows failed self-update or connection attempts")
        if urllog_part[0] is Status.FAIL:
            problems.append("the SUS-era agent's urllog.dat holds a pingback it could not deliver")
        return _BUILD.fail(sentence(problems), evidence)
    if worst is Status.WARN:
        return _BUILD.warn("WindowsUpdate.log holds recent error results.", evidence)
    if worst is Status.UNKNOWN:
        evidence += probe_errors(facts.errors, "logs")
        return _BUILD.unknown("Could not read the client's update logs.", evidence)
    if worst is Status.SKIP:
        return _BUILD.skip("No update log applies to this client: " + "; ".join(evidence))
    return _BUILD.passed("The client's update logs show no recent failures.", evidence)


CHECK = Check(META, evaluate)
