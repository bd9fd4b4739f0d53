"""Gather one digest: check each WSUS server in scope (one bundle: server facts, the new
IIS log lines from the stored cursor, the computer inventory), fold the log lines into
the stored failure state, then read check history and finished follow-ups.

A server that cannot be read is named (``Digest.not_read``) and the others still count.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import DigestConfig
from bot.digest.causes import Digest, ServerNotRead
from bot.digest.detect import (
    RESET_FIX,
    followup_sightings,
    history_sightings,
    inventory_sightings,
    log_sightings,
)
from bot.services import Services
from bot.store.digests import LogObservation
from checks._support import as_utc
from checks.facts import IisLog, ServerFacts, WsusComputer, WsusComputers
from checks.logscan import SELFUPDATE_PATHS, ScanResult, is_success
from checks.report import Report
from checks.w3c import iter_records
from handlers.target import HostTarget

log = logging.getLogger(__name__)

#: how far back finished follow-ups are read (a follow-up older than this is history)
FOLLOWUP_LOOKBACK = timedelta(days=30)
#: accumulated IIS log failures older than this are dropped (keeps the table bounded; any
#: digest's log_error_window_hours is far shorter)
LOG_STATE_RETENTION = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Scope:
    servers: list[HostTarget]
    #: inventory clients in scope (lower-case name -> target)
    clients: dict[str, HostTarget]


def digest_scope(services: Services, digest: DigestConfig) -> Scope:
    """Servers named or in the digest's groups (all servers when neither is given), and
    the inventory clients of those servers or in those groups."""
    inventory = services.inventory
    settings = services.settings
    server_names = {s.name.lower() for s in settings.servers}
    group_members = {m.lower() for g in digest.groups for m in inventory.groups().get(g, [])}
    wanted = {n.lower() for n in digest.servers} | (group_members & server_names)
    unrestricted = not digest.servers and not digest.groups
    servers = [
        inventory.resolve(s.name)
        for s in settings.servers
        if unrestricted or s.name.lower() in wanted
    ]
    chosen = {s.name.lower() for s in servers}
    clients = {
        c.name.lower(): inventory.resolve(c.name)
        for c in settings.clients
        if unrestricted
        or c.name.lower() in group_members
        or (c.server is not None and c.server.lower() in chosen)
    }
    return Scope(servers, clients)


class _Names:
    """Show one name per machine: the inventory's client name when the server's
    inventory or log knows the same machine by its FQDN or address."""

    def __init__(self, clients: Iterable[HostTarget]) -> None:
        self._by_address: dict[str, str] = {}
        self._by_label: dict[str, str] = {}
        for client in clients:
            self._by_address[client.address.lower()] = client.name.lower()
            self._by_label[client.name.lower()] = client.name.lower()
        self._computer_by_ip: dict[str, str] | None = None
        self._inventories: list[Iterable[WsusComputer]] = []

    def learn(self, computers: Iterable[WsusComputer]) -> None:
        """Inventory names by address, for log lines that give only an address; worked
        out at the first such lookup (most digests never need all 100,000 of them)."""
        self._inventories.append(computers)
        self._computer_by_ip = None

    def _by_ip(self) -> dict[str, str]:
        if self._computer_by_ip is None:
            found: dict[str, str] = {}
            for computers in self._inventories:
                for computer in computers:
                    if computer.ip and computer.name:
                        found.setdefault(computer.ip.lower(), computer.name.lower())
            self._computer_by_ip = found
        return self._computer_by_ip

    def __call__(self, name: str | None, ip: str | None) -> str:
        address = (ip or "").strip().lower()
        if address in self._by_address:
            return self._by_address[address]
        text = (name or "").strip().lower()
        if not text and address:
            text = self._by_ip().get(address, "")
        if text:
            return self._by_label.get(text.split(".", 1)[0], text)
        return address or "(unnamed)"


def observations(
    iis_log: IisLog, *, ignored_client_ips: Iterable[str] = ()
) -> list[LogObservation]:
    """Failures (handshake rule applied by ``checks.logscan``) and the newest success per
    client and path, from the lines of one incremental read; the bot's own requests
    (``ignored_client_ips``, the bot's user agent) are left out as ``logscan`` leaves them."""
    scan = ScanResult(ignored_client_ips=ignored_client_ips)
    successes: dict[tuple[str, str], tuple[str, datetime, datetime]] = {}
    for record in iter_records(iis_log.lines or [], stem_prefixes=SELFUPDATE_PATHS):
        ignored = scan.ignored_requests
        scan.add(record)
        if scan.ignored_requests != ignored:
            continue
        if is_success(record.status):
            key = (record.client_ip, record.uri_stem.lower())
            known = successes.get(key)
            first = record.time if known is None else min(known[1], record.time)
            last = record.time if known is None else max(known[2], record.time)
            successes[key] = (record.uri_stem, first, last)
    found = [
        LogObservation(f.client_ip, f.path, f.status, f.count, f.first_seen, f.last_seen)
        for f in scan.failures
    ]
    found += [
        LogObservation(ip, path, None, 1, first, last)
        for (ip, _), (path, first, last) in successes.items()
    ]
    return found


def log_window_start(window: datetime, verified_fix: datetime | None) -> datetime:
    """Accumulated failures count from the later of the log window's start and the
    server's last fix whose re-check passed: older ones are history, not current (the
    same rule as ``server.iis_log_errors``, ``LogScope.resolved_at``)."""
    if verified_fix is None:
        return window
    return max(window, as_utc(verified_fix))


def _inventory_unread(document: WsusComputers | None) -> str:
    """Why a server's inventory was not read, with the probe's (or the pager's) words."""
    reason = "WSUS inventory not readable"
    errors = [e.message for e in (document.errors if document else None) or [] if e.message]
    if errors:
        detail = " ".join(errors[-1].split())
        reason += ": " + (detail if len(detail) <= 300 else detail[:297] + "...")
    return reason


def _unread_reason(report: Report, facts: object) -> str | None:
    if report.unreachable_reason:
        return report.unreachable_reason.replace("_", " ")
    if not isinstance(facts, ServerFacts):
        return "not a WSUS server"
    return None


async def gather(
    services: Services,
    digest: DigestConfig,
    *,
    now: datetime,
    requested_by: str,
) -> Digest:
    store = services.digests
    thresholds = (digest.thresholds or services.settings.thresholds).to_thresholds()
    scope = digest_scope(services, digest)
    names = _Names(scope.clients.values())
    result = Digest(
        digest_id=digest.id,
        generated_at=now,
        checkable=frozenset(scope.clients) | {s.name.lower() for s in scope.servers},
    )
    # read the cursors now: the runner calls this on the event loop, where no DB I/O belongs
    cursors = {
        server.name: await asyncio.to_thread(store.cursor, server.name) for server in scope.servers
    }
    async with services.runner(cursors=lambda target: cursors.get(target.name)) as runner:
        outcomes = await runner.check_many(scope.servers, requested_by)
    inventories: list[tuple[str, list[WsusComputer]]] = []
    for outcome in outcomes:
        server = outcome.target.name.lower()
        reason = _unread_reason(outcome.report, outcome.facts)
        if reason is not None:
            result.not_read.append(ServerNotRead(server, reason))
            continue
        facts = outcome.facts
        assert isinstance(facts, ServerFacts)
        result.servers_read.append(server)
        computers = facts.wsus_computers.computers if facts.wsus_computers else None
        if computers is None:
            result.not_read.append(ServerNotRead(server, _inventory_unread(facts.wsus_computers)))
        else:
            names.learn(computers)
            inventories.append((server, computers))
        if facts.iis_log is None or facts.iis_log.lines is None:
            result.not_read.append(ServerNotRead(server, "IIS logs not readable"))
        else:
            seen = observations(
                facts.iis_log, ignored_client_ips=services.settings.runner.bot_source_addresses
            )
            await asyncio.to_thread(store.merge_observations, server, seen)
            if facts.iis_log.cursor is not None:
                await asyncio.to_thread(store.save_cursor, server, facts.iis_log.cursor, now)
            await asyncio.to_thread(store.forget_log_failures, server, now - LOG_STATE_RETENTION)
    for server, computers in inventories:
        result.computers_seen += len(computers)
        result.add(
            inventory_sightings(
                computers, server=server, now=now, thresholds=thresholds, canonical=names
            )
        )
    window = now - timedelta(hours=thresholds.log_error_window_hours)
    for server in result.servers_read:
        since = log_window_start(window, await asyncio.to_thread(store.last_verified_fix, server))
        failures = await asyncio.to_thread(store.log_failures, server, since)
        result.add(log_sightings(failures, canonical=names))
    result.add(history_sightings(await asyncio.to_thread(_latest_reports, services, scope)))
    followups = await asyncio.to_thread(
        services.approvals.finished_followups, now - FOLLOWUP_LOOKBACK, RESET_FIX
    )
    unrestricted = not digest.servers and not digest.groups
    result.add(s for s in followup_sightings(followups) if unrestricted or s.host in scope.clients)
    return result


def _latest_reports(services: Services, scope: Scope) -> list[tuple[str, Report]]:
    latest = services.runs.latest_per_host(limit=None, hosts=list(scope.clients))
    return [(run.host, Report.from_json(run.report)) for run in latest]
