"""Configuration: a TOML file plus environment overrides, validated (docs/config.md).

A bad file is a :class:`ConfigError` naming the key, the value and what was expected; the
CLI turns it into exit code 2. Secrets are never stored here as text: only the *places*
they come from (env var names, ``*_file`` paths); :mod:`bot.secrets` reads them on use.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.bounded import read_at_most
from checks.errors import ConfigError
from checks.model import Thresholds

Transport = Literal["ntlm", "kerberos", "credssp", "basic", "certificate"]
#: WinRM message encryption (pywinrm's and Ansible's ``message_encryption``): ``auto`` seals
#: the SOAP bodies over http:// (NTLM, Kerberos, CredSSP) and leaves TLS to do it on https
MessageEncryption = Literal["auto", "always", "never"]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoreConfig(Section):
    url: str = "sqlite:///var/wsusbot.sqlite"


class WinrmConfig(Section):
    transport: Transport = "ntlm"
    username: str | None = None
    password_file: Path | None = None
    operation_timeout_s: float = Field(20.0, gt=0, le=3600)
    read_timeout_s: float = Field(30.0, gt=0, le=3700)
    verify_tls: bool = True
    ca_bundle: Path | None = None
    cert_pem: Path | None = None
    cert_key_pem: Path | None = None
    allow_insecure_basic: bool = False
    #: connection retries (never for fixes): attempts after the first
    connect_retries: int = Field(2, ge=0, le=10)
    message_encryption: MessageEncryption = "auto"

    @model_validator(mode="after")
    def _timeouts(self) -> WinrmConfig:
        # pywinrm requires it: a Receive held longer than the read timeout is an uncaught error
        if self.read_timeout_s <= self.operation_timeout_s:
            raise ValueError(
                f"read_timeout_s ({self.read_timeout_s}) must be greater than "
                f"operation_timeout_s ({self.operation_timeout_s})"
            )
        return self


class HostOverrides(Section):
    #: the host's Windows as the admin knows it; ``Windows 2000`` (``w2k``) is never
    #: contacted (it cannot run WinRM): its checks say so and how to check it by hand
    os: str | None = None
    transport: Transport | None = None
    username: str | None = None
    password_file: Path | None = None
    verify_tls: bool | None = None
    ca_bundle: Path | None = None
    message_encryption: MessageEncryption | None = None
    #: the host part of the service principal (``HTTP/<this>``) when it is not the host
    #: the URL names: an address, an alias, a load balancer; ``{host}`` in a pattern
    kerberos_hostname_override: str | None = None

    @field_validator("kerberos_hostname_override")
    @classmethod
    def _spn_host(cls, value: str | None) -> str | None:
        if value is None:
            return None
        # a host name, not a principal: no service class, realm or port
        if not value or any(c in value for c in "/@: \t\\") or len(value) > 253:
            raise ValueError(
                "a host name such as wsus01.corp.example.com (no HTTP/, @REALM or port)"
            )
        return value

    #: the site whose worker reaches this host (``wsusbot worker --site``); none: the bot
    site: str | None = None

    @field_validator("site")
    @classmethod
    def _site(cls, value: str | None) -> str | None:
        return None if value is None else site_name(value)


class ServerEntry(HostOverrides):
    name: str
    address: str
    wsus_url: str | None = None
    selfupdate_url: str | None = None
    winrm_url: str | None = None
    groups: tuple[str, ...] = ()


class ClientEntry(HostOverrides):
    name: str
    address: str
    server: str | None = None
    winrm_url: str | None = None
    groups: tuple[str, ...] = ()


class PatternEntry(HostOverrides):
    match: str
    role: Literal["client", "server"] | None = None
    server: str | None = None
    winrm_url: str = "http://{host}:5985/wsman"
    groups: tuple[str, ...] = ()


class RunnerConfig(Section):
    concurrency: int = Field(16, ge=1, le=1024)
    host_deadline_s: float = Field(60.0, gt=0, le=3600)
    http_timeout_s: float = Field(10.0, gt=0, le=300)
    iis_log_max_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    #: the bot's own source addresses as a WSUS server's IIS log sees them (its HTTP
    #: probes); left out of server.iis_log_errors and the digest (docs/config.md)
    bot_source_addresses: tuple[str, ...] = ()

    @field_validator("bot_source_addresses")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        import ipaddress

        for address in value:
            ipaddress.ip_address(address.split("%", 1)[0])  # ValueError names the value
        return value


#: a site name becomes part of a queue name and a worker's node name: keep it plain
_SITE_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?", re.ASCII)


def site_name(value: str) -> str:
    if not _SITE_NAME.fullmatch(value):
        raise ValueError(
            "a site name is 1-40 lower-case letters, digits and '-' (not at either end), "
            "e.g. branch-paris"
        )
    return value


class BrokerConfig(Section):
    """Site workers (docs/architecture.md, "Sites"). No ``url``: everything runs in the
    bot's own process, as without sites."""

    #: ``amqp://user:password@host:5672/vhost``; it carries a password, so it may come
    #: from ``WSUSBOT_BROKER_URL`` or ``WSUSBOT_BROKER_URL_FILE`` instead
    url: str | None = None
    #: queue and worker names start with it: two deployments can share one vhost
    queue_prefix: str = Field("wsusbot", pattern=r"^[a-z][a-z0-9_-]{0,30}$")
    #: a group's site, for members without a ``site`` of their own
    group_sites: dict[str, str] = {}
    #: how long the bot waits for workers to answer a ping before it calls a site empty
    ping_timeout_s: float = Field(1.0, gt=0, le=30)
    #: how long a ping's answer is trusted (one ping serves a whole fleet check)
    liveness_ttl_s: float = Field(5.0, ge=0, le=300)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("amqp://", "amqps://", "pyamqp://")):
            # never echo the value: it may carry the broker password
            raise ValueError("the broker URL must start with amqp://, amqps:// or pyamqp://")
        return value

    @field_validator("group_sites")
    @classmethod
    def _group_sites(cls, value: dict[str, str]) -> dict[str, str]:
        for site in value.values():
            site_name(site)
        return value


class ThresholdsConfig(Section):
    stale_warn_days: int = Field(7, ge=1)
    stale_fail_days: int = Field(30, ge=1)
    min_client_version: str = "7.6.7600.256"
    sus_era_below_version: str = "5.8"
    lwt_jump_hours: float = Field(24.0, gt=0)
    lwt_ahead_warn_hours: float = Field(20.0, gt=0)
    search_warn_days: float = Field(3.0, gt=0)
    search_fail_days: float = Field(7.0, gt=0)
    log_error_window_hours: float = Field(72.0, gt=0)

    @field_validator("min_client_version", "sus_era_below_version")
    @classmethod
    def _dotted(cls, value: str) -> str:
        parts = value.split(".")
        if not all(part.isdigit() for part in parts):
            raise ValueError("a dotted version of numbers, like 7.6.7600.256")
        return value

    def to_thresholds(self) -> Thresholds:
        return Thresholds(**self.model_dump())


class SlackConfig(Section):
    api_url: str = "https://slack.com/api/"
    bot_token_file: Path | None = None
    app_token_file: Path | None = None
    signing_secret_file: Path | None = None
    channels: tuple[str, ...] = ()
    audit_channel: str | None = None
    #: refuse a second identical command within this many seconds (Slack retries)
    dedupe_window_s: float = Field(600.0, ge=0)


class RolesConfig(Section):
    viewers: tuple[str, ...] = ()
    operators: tuple[str, ...] = ()
    approvers: tuple[str, ...] = ()


class ApprovalsConfig(Section):
    expiry_minutes: int = Field(60, ge=1, le=7 * 24 * 60)
    two_person_rule: bool = True
    #: fix ids for which the requester may approve their own request
    self_approval_allowed: tuple[str, ...] = ()
    followup_minutes: int | None = Field(None, ge=1)


class BatchConfig(Section):
    """Defaults of a batch fix's plan (docs/config.md, ``[batch]``)."""

    #: hosts fixed (and verified) first, alone; nothing else runs unless they pass
    canary: int = Field(1, ge=1, le=10)
    wave_size: int = Field(10, ge=1, le=500)
    #: a wave halts the batch when more than this many of its hosts fail
    failure_threshold: int = Field(1, ge=0, le=500)
    pause_between_waves_s: float = Field(30.0, ge=0, le=24 * 3600)
    #: hosts of a wave fixed at the same time
    concurrency: int = Field(5, ge=1, le=100)
    #: one host's fix and re-check together, past which the host counts as failed
    host_deadline_s: float = Field(300.0, gt=0, le=3600)
    #: the most hosts one batch may hold
    max_hosts: int = Field(500, ge=1, le=5000)


class DigestConfig(Section):
    id: str
    channel: str
    cron: str = "0 8 * * 1-5"
    timezone: str = "UTC"
    servers: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    post_when_healthy: bool = True
    top_hosts: int = Field(10, ge=1, le=20)
    thresholds: ThresholdsConfig | None = None

    @model_validator(mode="after")
    def _schedule(self) -> DigestConfig:
        # a schedule that cannot run is a start-up error, not a silent digest that never posts
        from apscheduler.triggers.cron import CronTrigger

        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {self.timezone!r} (an IANA name, e.g. Europe/Paris)"
            ) from None
        try:
            CronTrigger.from_crontab(self.cron, timezone=zone)
        except ValueError as exc:
            raise ValueError(
                f"cron {self.cron!r} does not parse ({exc}); five fields: minute hour "
                "day-of-month month day-of-week, e.g. '0 8 * * 1-5'"
            ) from None
        return self


class MetricsConfig(Section):
    """Prometheus ``/metrics`` (docs/config.md, "Metrics"). Off unless enabled. HTTP mode
    serves it on the events port; Socket Mode on its own listener, ``bind``:``port``
    (loopback by default: metrics name hosts' check ids and Slack errors, not secrets, but
    a scrape endpoint is an operator's, not the internet's)."""

    enabled: bool = False
    bind: str = "127.0.0.1"
    port: int = Field(9464, ge=0, le=65535)

    @field_validator("bind")
    @classmethod
    def _bind(cls, value: str) -> str:
        import ipaddress

        ipaddress.ip_address(value)  # ValueError names the value
        return value


class Settings(Section):
    store: StoreConfig = StoreConfig()
    winrm: WinrmConfig = WinrmConfig()
    runner: RunnerConfig = RunnerConfig()
    thresholds: ThresholdsConfig = ThresholdsConfig()
    servers: tuple[ServerEntry, ...] = ()
    clients: tuple[ClientEntry, ...] = ()
    patterns: tuple[PatternEntry, ...] = ()
    slack: SlackConfig = SlackConfig()
    roles: RolesConfig = RolesConfig()
    approvals: ApprovalsConfig = ApprovalsConfig()
    batch: BatchConfig = BatchConfig()
    digests: tuple[DigestConfig, ...] = ()
    metrics: MetricsConfig = MetricsConfig()
    broker: BrokerConfig = BrokerConfig()
    #: where the config was read from (relative paths in it are resolved against it)
    source: Path | None = None

    @model_validator(mode="after")
    def _references(self) -> Settings:
        names: set[str] = set()
        entries: list[ServerEntry | ClientEntry] = [*self.servers, *self.clients]
        for entry in entries:
            key = entry.name.lower()
            if key in names:
                raise ValueError(f"host name {entry.name!r} is listed twice in the inventory")
            names.add(key)
        servers = {s.name.lower() for s in self.servers}
        for client in self.clients:
            if client.server is not None and client.server.lower() not in servers:
                raise ValueError(
                    f"client {client.name!r} names server {client.server!r}, which is not "
                    "in [[servers]]"
                )
        sited = [e for e in (*entries, *self.patterns) if e.site] or self.broker.group_sites
        if sited and self.broker.url is None:
            raise ValueError(
                "the inventory puts hosts in sites, but [broker] url is not set (or "
                "WSUSBOT_BROKER_URL): a site's hosts are reached only by its workers"
            )
        digest_ids = [d.id for d in self.digests]
        if len(set(digest_ids)) != len(digest_ids):
            raise ValueError("two [[digests]] share one id")
        return self


ENV_OVERRIDES: Mapping[str, tuple[str, str]] = {
    "WSUSBOT_DATABASE_URL": ("store", "url"),
    "WSUSBOT_SLACK_API_URL": ("slack", "api_url"),
    "WSUSBOT_WINRM_USERNAME": ("winrm", "username"),
    "WSUSBOT_WINRM_TRANSPORT": ("winrm", "transport"),
    "WSUSBOT_BROKER_URL": ("broker", "url"),
}


def _describe(error: ValidationError, source: str) -> str:
    lines = []
    for item in error.errors()[:8]:
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        shown = repr(item.get("input"))
        if where.startswith("broker.url"):
            shown = "(not shown: it may carry the broker password)"
        if len(shown) > 80:
            shown = shown[:77] + "..."
        if item["type"] == "extra_forbidden":
            lines.append(
                f"{source}: unknown key '{where}' (check the spelling; see docs/config.md)"
            )
        else:
            lines.append(f"{source}: key '{where}' = {shown}: {item['msg']}")
    return "\n".join(lines)


def _resolve_relative(data: dict[str, Any], base: Path) -> None:
    """Paths in the file are relative to the file, as users expect from a config."""
    path_keys = {
        "password_file",
        "ca_bundle",
        "cert_pem",
        "cert_key_pem",
        "bot_token_file",
        "app_token_file",
        "signing_secret_file",
    }

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in path_keys and isinstance(value, str) and not os.path.isabs(value):
                    node[key] = str(base / value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(data)
    store = data.get("store")
    if isinstance(store, dict):
        url = store.get("url")
        prefix = "sqlite:///"
        if isinstance(url, str) and url.startswith(prefix) and not url.startswith(prefix + "/"):
            relative = url[len(prefix) :]
            if relative and relative != ":memory:":
                store["url"] = prefix + str(base / relative)


def _read_override_file(path: Path, var: str) -> str:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(f"cannot read {var}_FILE ({path}): {exc.strerror}") from exc
    if not value:
        raise ConfigError(f"{var}_FILE ({path}) is empty")
    return value


def load_settings(path: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the configuration. ``env`` defaults to ``os.environ``."""
    environ = os.environ if env is None else env
    if path is None and environ.get("WSUSBOT_CONFIG"):
        path = Path(environ["WSUSBOT_CONFIG"])
    data: dict[str, Any] = {}
    source = "environment"
    if path is not None:
        source = str(path)
        raw = _read_config_bytes(path)
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
        except RecursionError:
            raise ConfigError(f"{path}: nested too deeply to be a wsusbot configuration") from None
        try:
            _resolve_relative(data, path.resolve().parent)
        except RecursionError:
            raise ConfigError(f"{path}: nested too deeply to be a wsusbot configuration") from None
    for var, (section, key) in ENV_OVERRIDES.items():
        value = environ.get(var)
        if not value and environ.get(f"{var}_FILE"):
            # a database URL carries a password: it may come from a secret file
            value = _read_override_file(Path(environ[f"{var}_FILE"]), var)
        if value:
            bucket = data.setdefault(section, {})
            if not isinstance(bucket, dict):
                raise ConfigError(f"{source}: key '{section}' must be a table")
            bucket[key] = value
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from None
    except RecursionError:
        raise ConfigError(f"{source}: nested too deeply to be a wsusbot configuration") from None
    return settings.model_copy(update={"source": path})


#: a configuration larger than this is refused unread (a wrong path, /dev/zero, a log)
MAX_CONFIG_BYTES = 4 * 1024 * 1024


def _read_config_bytes(path: Path) -> bytes:
    try:
        raw = read_at_most(path, MAX_CONFIG_BYTES)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"{path}: larger than {MAX_CONFIG_BYTES // (1024 * 1024)} MiB; "
            "that is not a wsusbot configuration"
        )
    return raw
