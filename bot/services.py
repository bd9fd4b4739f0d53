"""Composition root for the domain services: settings -> store, inventory, runner.

Everything is created here, on demand, and handed down; nothing exists at import time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from bot.config import Settings
from bot.inventory import Inventory
from bot.observability.metrics import Metrics
from bot.observability.runs import CountingRunStore
from bot.observability.winrm import MeteredWinrmClient
from bot.secrets import Secret, read_secret
from bot.store.approvals import ApprovalStore
from bot.store.audit import AuditLog
from bot.store.batches import BatchStore
from bot.store.check_posts import CheckPostStore
from bot.store.db import Database
from bot.store.digests import DigestStore
from bot.store.runs import MarkerStore, RunStore
from bot.store.tokens import TokenStore
from checks.errors import ConfigError
from checks.model import LogScope, Thresholds
from checks.platforms import declared_windows_2000
from checks.registry import Registry, default_registry
from handlers.collector import CollectSettings, CursorSource, LiveCollector, ServerEndpoints
from handlers.fixes import FixRunner
from handlers.http import HttpProber
from handlers.runner import Collector, Runner
from handlers.target import HostTarget
from handlers.winrm import WinrmClient, WinrmSettings

if TYPE_CHECKING:
    # the broker side is imported on use: without [broker] url nothing of Celery loads
    from bot.sites.routing import SiteClient, SiteFixRunner

Clock = Callable[[], datetime]

#: the transports that log on with a user name and a password (docs/config.md)
PASSWORD_TRANSPORTS = frozenset({"ntlm", "credssp", "basic"})


def logs_on_with_password(target: HostTarget) -> bool:
    """Whether the bot needs a user name and password for ``target``: not for Kerberos or
    certificate hosts, nor for a declared Windows 2000 host (never contacted)."""
    return target.transport in PASSWORD_TRANSPORTS and not declared_windows_2000(target.os)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    """The stores and the inventory are built once, with the services, and shared."""

    settings: Settings
    db: Database
    clock: Clock = utc_now
    registry: Registry = field(default_factory=default_registry)
    metrics: Metrics = field(default_factory=Metrics)
    _passwords: dict[Path | None, Secret] = field(default_factory=dict)
    inventory: Inventory = field(init=False)
    runs: RunStore = field(init=False)
    markers: MarkerStore = field(init=False)
    audit: AuditLog = field(init=False)
    tokens: TokenStore = field(init=False)
    approvals: ApprovalStore = field(init=False)
    batches: BatchStore = field(init=False)
    digests: DigestStore = field(init=False)
    check_posts: CheckPostStore = field(init=False)
    thresholds: Thresholds = field(init=False)
    _sites: SiteClient | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.thresholds = self.settings.thresholds.to_thresholds()
        self.inventory = Inventory(self.settings)
        self.runs = CountingRunStore(self.db, self.metrics)
        self.markers = MarkerStore(self.db)
        self.audit = AuditLog(self.db)
        self.tokens = TokenStore(self.db)
        self.approvals = ApprovalStore(self.db)
        self.batches = BatchStore(self.db)
        self.digests = DigestStore(self.db)
        self.check_posts = CheckPostStore(self.db)

    @classmethod
    def open(cls, settings: Settings, *, clock: Clock = utc_now, migrate: bool = True) -> Services:
        db = Database(settings.store.url)
        if migrate:
            db.migrate()
        return cls(settings=settings, db=db, clock=clock)

    def password_for(self, target: HostTarget) -> Secret | None:
        """The WinRM password for a host: env first, then the host's or default file."""
        return password_for(target, self._passwords)

    def require_credentials(self, targets: list[HostTarget]) -> None:
        """Before any host is contacted: every host that logs on with a password has a
        user name and a readable password, or one ConfigError (exit 2) says what is
        missing, instead of the same "unreachable" under every host."""
        missing_user: list[str] = []
        for target in self.bot_reached(targets):
            if not logs_on_with_password(target):
                continue
            if not target.username:
                missing_user.append(target.name)
                continue
            self.password_for(target)  # a ConfigError names the variable or the file
        if missing_user:
            shown = ", ".join(missing_user[:5]) + (" ..." if len(missing_user) > 5 else "")
            raise ConfigError(
                f"no WinRM username for {shown}: set [winrm] username (or the host's "
                "username) in the config, or WSUSBOT_WINRM_USERNAME"
            )

    def bot_reached(self, targets: list[HostTarget]) -> list[HostTarget]:
        """The hosts this process logs on to: with a broker, a site's hosts are its
        worker's (which holds their credentials; the bot need not)."""
        if self.settings.broker.url is None:
            return targets
        return [t for t in targets if self.inventory.site_of(t) is None]

    def server_endpoints(self) -> list[ServerEndpoints]:
        return server_endpoints(self.settings, self.inventory)

    def winrm_client(self) -> WinrmClient:
        client = MeteredWinrmClient(winrm_settings(self.settings))
        # every round trip (checks and fixes) timed into wsusbot_winrm_round_trip_seconds
        client.metrics = self.metrics
        return client

    @asynccontextmanager
    async def runner(self, *, cursors: CursorSource | None = None) -> AsyncIterator[Runner]:
        """A runner with its HTTP client and thread pool, closed on exit. With a broker,
        a site's hosts go to the site's workers; the rest run here (bot/sites)."""
        runner_cfg = self.settings.runner
        executor = ThreadPoolExecutor(
            max_workers=runner_cfg.concurrency, thread_name_prefix="wsusbot-winrm"
        )
        try:
            async with HttpProber(
                timeout_s=runner_cfg.http_timeout_s, verify=http_verify(self.settings)
            ) as http:
                collector: Collector = LiveCollector(
                    self.winrm_client(),
                    http,
                    self.password_for,
                    servers=self.server_endpoints(),
                    cursors=cursors,
                    settings=collect_settings(self.settings),
                    executor=executor,
                )
                sites = self.sites()
                if sites is not None:
                    from bot.sites.routing import RoutingCollector

                    collector = RoutingCollector(
                        collector, sites, self.inventory.site_of, cursors=cursors
                    )
                yield Runner(
                    self.registry,
                    collector,
                    self.runs,
                    clock=self.clock,
                    thresholds=self.thresholds,
                    concurrency=runner_cfg.concurrency,
                    host_deadline_s=runner_cfg.host_deadline_s,
                    log_scope=self.log_scope,
                    fleet_round=http.fleet_round,
                    fresh_probes=http.fresh,
                )
        finally:
            executor.shutdown(wait=False, cancel_futures=True)

    def sites(self) -> SiteClient | None:
        """The bot's end of the broker, built on first use; None without ``[broker] url``."""
        if self.settings.broker.url is None:
            return None
        if self._sites is None:
            from bot.sites.routing import SiteClient

            self._sites = SiteClient(self.settings.broker)
        return self._sites

    def fix_runner(self) -> SiteFixRunner:
        """Runs a fix here, or on the host's site worker (with the approval as its key)."""
        from bot.sites.routing import SiteFixRunner

        local = FixRunner(self.winrm_client(), self.password_for)
        return SiteFixRunner(local, self.sites(), self.inventory.site_of)

    def log_scope(self, target: HostTarget) -> LogScope:
        """What of a server's IIS log is current: not the bot's own probe requests
        (``[runner] bot_source_addresses``), not failures before the server's last fix
        whose re-check passed. Reads the store (call it off the event loop)."""
        return LogScope(
            ignored_client_ips=frozenset(self.settings.runner.bot_source_addresses),
            resolved_at=self.digests.last_verified_fix(target.name),
        )

    @property
    def single_process(self) -> bool:
        """SQLite is one process: after a restart, nothing of the old one still runs."""
        return self.db.dialect == "sqlite"

    def close(self) -> None:
        if self._sites is not None:
            self._sites.close()
            self._sites = None
        self.db.dispose()


def password_for(target: HostTarget, cache: dict[Path | None, Secret]) -> Secret | None:
    """The WinRM password for a host: env first, then the host's or default file. Shared
    by the bot and a site worker, each with its own cache (and its own credentials)."""
    key = target.password_file
    cached = cache.get(key)
    if cached is not None:
        return cached
    # a host that needs no password must not teach the cache "there is none"
    found = read_secret(
        "WSUSBOT_WINRM_PASSWORD",
        "WinRM password",
        file_from_config=key,
        required=target.transport in PASSWORD_TRANSPORTS,
    )
    if found is not None:
        cache[key] = found
    return found


def server_endpoints(settings: Settings, inventory: Inventory) -> list[ServerEndpoints]:
    """How the bot (or a site worker) reaches each WSUS server a client may name."""
    endpoints = []
    for entry in settings.servers:
        target = inventory.resolve(entry.name)
        names = {entry.name.lower(), entry.address.lower()}
        for url in (target.wsus_url, target.selfupdate_url):
            host = urlsplit(url).hostname if url else None
            if host:
                names.add(host.lower())
        endpoints.append(ServerEndpoints(frozenset(names), target.wsus_url, target.selfupdate_url))
    return endpoints


def winrm_settings(settings: Settings) -> WinrmSettings:
    winrm = settings.winrm
    return WinrmSettings(
        operation_timeout_s=winrm.operation_timeout_s,
        read_timeout_s=winrm.read_timeout_s,
        allow_insecure_basic=winrm.allow_insecure_basic,
        connect_retries=winrm.connect_retries,
    )


def winrm_client(settings: Settings) -> WinrmClient:
    """The WinRM client of a process without metrics (a site worker)."""
    return WinrmClient(winrm_settings(settings))


def collect_settings(settings: Settings) -> CollectSettings:
    runner_cfg = settings.runner
    return CollectSettings(
        probe_timeout_ms=int(min(runner_cfg.http_timeout_s, 10) * 1000),
        iis_log_max_bytes=runner_cfg.iis_log_max_bytes,
    )


def http_verify(settings: Settings) -> bool | str:
    verify: bool | str = settings.winrm.verify_tls
    if verify and settings.winrm.ca_bundle:
        verify = str(settings.winrm.ca_bundle)
    return verify
