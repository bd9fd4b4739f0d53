"""``wsusbot doctor``: what actually breaks a deployment, each item tested for real.

The configuration; the database and its migration level (never created by looking at it);
WinRM credentials present and readable; per inventory host, the TLS handshake (https
endpoints, with the host's own certificate settings) and one authenticated WinRM round
trip; Slack's ``auth.test`` and the bot's membership of every channel it posts to; the
digest schedules. Every item is a line: OK or FAIL, and what to do.
"""

from __future__ import annotations

import socket
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from checks.errors import CollectionError, ConfigError, WsusbotError

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.services import Services
    from handlers.target import HostTarget

#: the round trip: a read-only one-liner; any answer (even a refusal to run it) proves the
#: log-on, which is what the doctor asks
ROUND_TRIP_SCRIPT = "$env:COMPUTERNAME"
ROUND_TRIP_DEADLINE_S = 20.0
TLS_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class DoctorLine:
    item: str
    ok: bool
    detail: str

    def to_json(self) -> dict[str, object]:
        return asdict(self)


# ------------------------------------------------------------------------- store


def store_lines(settings: Settings) -> list[DoctorLine]:
    from bot.store.db import Database, redact_url
    from bot.store.migrate_status import migration_status

    url = settings.store.url
    missing = _missing_sqlite_file(url)
    if missing is not None:
        return [
            DoctorLine("store", False, f"{missing} does not exist: run `wsusbot db upgrade`"),
            DoctorLine("migrations", False, "no database yet"),
        ]
    try:
        db = Database(url)
    except WsusbotError as exc:
        return [DoctorLine("store", False, str(exc))]
    try:
        if not db.ping():
            return [DoctorLine("store", False, f"cannot connect to {redact_url(db.url)}")]
        lines = [DoctorLine("store", True, f"{db.dialect} at {redact_url(db.url)}")]
        try:
            status = migration_status(db)
        except WsusbotError as exc:
            return [*lines, DoctorLine("migrations", False, str(exc))]
        if status.up_to_date:
            lines.append(DoctorLine("migrations", True, f"at {status.shown_current}"))
        else:
            lines.append(
                DoctorLine(
                    "migrations",
                    False,
                    f"database at {status.shown_current}, code at "
                    f"{', '.join(sorted(status.heads))}: run `wsusbot db upgrade`",
                )
            )
        return lines
    finally:
        db.dispose()


def _missing_sqlite_file(url: str) -> Path | None:
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url.startswith(prefix + ":memory:"):
        return None
    path = Path(url[len(prefix) :].split("?", 1)[0])
    return None if path.exists() else path


# ------------------------------------------------------------------------- WinRM


def credential_lines(services: Services, targets: list[HostTarget]) -> list[DoctorLine]:
    """One line per distinct (transport, user, password source) the inventory uses."""
    from bot.services import logs_on_with_password
    from checks.platforms import declared_windows_2000

    seen: dict[tuple[str, str | None, Path | None], list[str]] = {}
    for target in targets:
        if declared_windows_2000(target.os):
            continue
        key = (target.transport, target.username, target.password_file)
        seen.setdefault(key, []).append(target.name)
    lines = []
    for (transport, username, password_file), hosts in seen.items():
        shown = ", ".join(hosts[:3]) + (f" and {len(hosts) - 3} more" if len(hosts) > 3 else "")
        item = f"winrm credentials ({transport}, {username or 'no user'})"
        target = next(t for t in targets if t.name == hosts[0])
        # the same rule as Services.require_credentials (before a check contacts a host)
        if not logs_on_with_password(target):
            lines.append(DoctorLine(item, True, f"no password needed; used by {shown}"))
            continue
        if not username:
            lines.append(
                DoctorLine(
                    item,
                    False,
                    f"no WinRM username for {shown}: set [winrm] username or "
                    "WSUSBOT_WINRM_USERNAME",
                )
            )
            continue
        try:
            services.password_for(target)
        except ConfigError as exc:
            lines.append(DoctorLine(item, False, str(exc)))
            continue
        where = f"file {password_file}" if password_file else "the environment"
        lines.append(DoctorLine(item, True, f"password readable from {where}; used by {shown}"))
    return lines


def tls_line(target: HostTarget, url: str, what: str) -> DoctorLine | None:
    """The TLS handshake to an https endpoint, verified as the bot verifies it."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return None
    item = f"tls {target.name} ({what})"
    port = parts.port or 443
    from handlers.winrm import tls_context

    try:
        context = tls_context(target.verify_tls, target.ca_bundle)
    except (OSError, ssl.SSLError) as exc:
        return DoctorLine(item, False, f"cannot load the CA bundle {target.ca_bundle}: {exc}")
    try:
        with (
            socket.create_connection((parts.hostname, port), timeout=TLS_TIMEOUT_S) as raw,
            context.wrap_socket(raw, server_hostname=parts.hostname) as tls,
        ):
            version = tls.version() or "TLS"
            cert = tls.getpeercert() or {}
    except ssl.SSLCertVerificationError as exc:
        hint = " (set the host's ca_bundle to the issuing CA)" if not target.ca_bundle else ""
        return DoctorLine(
            item,
            False,
            f"{parts.netloc}: certificate not trusted: {exc.verify_message or exc.reason}{hint}",
        )
    except ssl.SSLError as exc:
        return DoctorLine(item, False, f"{parts.netloc}: TLS handshake failed: {exc.reason}")
    except OSError as exc:
        return DoctorLine(item, False, f"{parts.netloc}: cannot connect: {exc.strerror or exc}")
    expires = cert.get("notAfter")
    detail = f"{parts.netloc}: {version}"
    if target.verify_tls:
        detail += ", certificate verified" + (f", expires {expires}" if expires else "")
    else:
        detail += ", certificate NOT verified (verify_tls = false)"
    return DoctorLine(item, True, detail)


def round_trip_line(services: Services, target: HostTarget) -> DoctorLine:
    from checks.errors import RemoteError

    item = f"winrm {target.name}"
    client = services.winrm_client()
    started = time.monotonic()
    try:
        password = services.password_for(target)
        result = client.run(
            target,
            password,
            ROUND_TRIP_SCRIPT,
            deadline=started + ROUND_TRIP_DEADLINE_S,
            retry_connect=False,
        )
    except RemoteError as exc:
        # it ran (and said no): logged on, which is the question here
        elapsed = time.monotonic() - started
        return DoctorLine(item, True, f"logged on ({target.transport}) in {elapsed:.2f} s; {exc}")
    except (CollectionError, ConfigError) as exc:
        return DoctorLine(item, False, f"{target.winrm_url}: {exc}")
    elapsed = time.monotonic() - started
    answer = result.stdout.decode("utf-8", errors="replace").strip()[:60]
    said = f"; it answered {answer!r}" if result.exit_code == 0 and answer else ""
    return DoctorLine(
        item, True, f"logged on ({target.transport}) at {target.winrm_url} in {elapsed:.2f} s{said}"
    )


def host_lines(services: Services, targets: list[HostTarget]) -> list[DoctorLine]:
    from checks.platforms import declared_windows_2000

    reachable = [t for t in targets if not declared_windows_2000(t.os)]

    def one(target: HostTarget) -> list[DoctorLine]:
        found = [
            line
            for line in (
                tls_line(target, target.winrm_url, "WinRM"),
                tls_line(target, target.wsus_url, "WSUS")
                if target.role == "server" and target.wsus_url
                else None,
            )
            if line is not None
        ]
        if any(not line.ok for line in found if "WinRM" in line.item):
            return found  # no log-on over a handshake that failed
        return [*found, round_trip_line(services, target)]

    workers = max(1, min(services.settings.runner.concurrency, len(reachable), 32))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="wsusbot-doctor") as pool:
        results = list(pool.map(one, reachable))
    return [line for lines in results for line in lines]


# ------------------------------------------------------------------------- Slack, schedules


def slack_lines(settings: Settings) -> list[DoctorLine]:
    from bot.slack.doctor import slack_lines as ask_slack

    return [DoctorLine(item, ok, detail) for item, ok, detail in ask_slack(settings)]


def digest_lines(settings: Settings, now: datetime) -> list[DoctorLine]:
    from bot.scheduling import cron_trigger

    lines = []
    for digest in settings.digests:
        item = f"digest {digest.id} schedule"
        try:
            trigger = cron_trigger(digest.cron, digest.timezone)
        except WsusbotError as exc:
            lines.append(DoctorLine(item, False, str(exc)))
            continue
        upcoming = trigger.get_next_fire_time(None, now)
        when = upcoming.isoformat() if upcoming else "never"
        lines.append(DoctorLine(item, True, f"'{digest.cron}' {digest.timezone}: next {when}"))
    return lines


def doctor_lines(
    settings: Settings, now: datetime, *, hosts: bool = True, slack: bool = True
) -> list[DoctorLine]:
    from bot.services import Services
    from bot.store.db import Database

    source = str(settings.source) if settings.source else "the environment"
    lines = [DoctorLine("config", True, f"read from {source}")]
    lines += store_lines(settings)
    if settings.servers or settings.clients:
        # the doctor never migrates nor creates the store: the services get a throwaway one
        services = Services(settings=settings, db=Database("sqlite:///:memory:"))
        try:
            # a site's hosts are reached (and logged on to) by that site's worker, which
            # holds their credentials; the bot checks only the hosts it reaches itself
            targets = services.bot_reached(services.inventory.all())
            lines += credential_lines(services, targets)
            if hosts:
                lines += host_lines(services, targets)
        finally:
            services.close()
    if slack:
        lines += slack_lines(settings)
    lines += digest_lines(settings, now)
    lines += site_lines(settings)
    return lines


def site_lines(settings: Settings) -> list[DoctorLine]:
    """The broker and each site's live workers (only with ``[broker] url``)."""
    if settings.broker.url is None:
        return []
    from bot.sites.liveness import doctor_lines as ask_sites

    return [DoctorLine(item, ok, detail) for item, ok, detail in ask_sites(settings)]
