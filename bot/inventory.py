"""Resolve what a user typed to a host the bot may touch (docs/architecture.md, "Walls").

The host argument is validated as a DNS name or an IP address before anything else; then it
must be in the inventory or match a configured pattern. Nothing runs for anything else.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from typing import TYPE_CHECKING, Any

from checks.errors import UnknownHostError, UsageError
from handlers.target import HostTarget

if TYPE_CHECKING:
    # annotations only: ``check --facts`` validates a host name without the config models
    from bot.config import ClientEntry, HostOverrides, PatternEntry, ServerEntry, Settings

_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)", re.ASCII)
#: an IPv6 zone id is made of RFC 3986 unreserved characters only (RFC 6874, section 2)
_ZONE_ID = re.compile(r"[A-Za-z0-9._~-]{1,64}", re.ASCII)
MAX_HOST_LENGTH = 253


def validate_host_argument(text: str) -> str:
    """A DNS name or an IP address, or a UsageError saying what is allowed."""
    candidate = text.strip()
    shown = candidate if len(candidate) <= 60 else candidate[:57] + "..."
    if not candidate:
        raise UsageError("no host given; type a host name from the inventory, e.g. wsus01")
    if len(candidate) > MAX_HOST_LENGTH:
        raise UsageError(f"host name is {len(candidate)} characters; the limit is 253")
    address, percent, zone = candidate.partition("%")
    if percent and not (_ZONE_ID.fullmatch(zone) and ":" in address):
        raise UsageError(
            f"{shown!r} is not a host name or IP address (an IPv6 zone id after '%' is letters, "
            "digits, '-', '.', '_' and '~' only)"
        )
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        pass
    else:
        return candidate
    labels = candidate.rstrip(".").split(".")
    if not all(_LABEL.fullmatch(label) for label in labels):
        raise UsageError(
            f"{shown!r} is not a host name or IP address (letters, digits, '-' and '.' only)"
        )
    return candidate.rstrip(".")


class Inventory:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._servers = {s.name.lower(): s for s in settings.servers}
        self._clients = {c.name.lower(): c for c in settings.clients}

    def names(self) -> list[str]:
        return [s.name for s in self._settings.servers] + [c.name for c in self._settings.clients]

    def groups(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        entries: list[ServerEntry | ClientEntry] = [
            *self._settings.servers,
            *self._settings.clients,
        ]
        for entry in entries:
            for group in entry.groups:
                found.setdefault(group, []).append(entry.name)
        return found

    def resolve(self, text: str) -> HostTarget:
        name = validate_host_argument(text)
        key = name.lower()
        if key in self._servers:
            return self._server_target(self._servers[key])
        if key in self._clients:
            return self._client_target(self._clients[key])
        for pattern in self._settings.patterns:
            if fnmatch.fnmatchcase(key, pattern.match.lower()):
                return self._pattern_target(name, pattern)
        raise UnknownHostError(
            f"{name!r} is not in the inventory and matches no host pattern; " + self._suggest(key)
        )

    def group(self, group: str) -> list[HostTarget]:
        members = self.groups().get(group)
        if members is None:
            known = ", ".join(sorted(self.groups())) or "none are configured"
            raise UsageError(f"unknown group {group!r}; groups: {known}")
        return [self.resolve(name) for name in members]

    def site_of(self, target: HostTarget) -> str | None:
        """The site whose worker reaches the host: its own entry's (or pattern's)
        ``site``, else its first group that ``[broker] group_sites`` maps; None: the bot."""
        entry: HostOverrides | None = self._servers.get(target.name.lower()) or self._clients.get(
            target.name.lower()
        )
        if entry is None:
            key = target.name.lower()
            entry = next(
                (p for p in self._settings.patterns if fnmatch.fnmatchcase(key, p.match.lower())),
                None,
            )
        if entry is not None and entry.site:
            return entry.site
        group_sites = self._settings.broker.group_sites
        return next((group_sites[g] for g in target.groups if g in group_sites), None)

    def all(self) -> list[HostTarget]:
        return [self.resolve(name) for name in self.names()]

    # ------------------------------------------------------------------ helpers

    def _suggest(self, key: str) -> str:
        names = self.names()
        close = [n for n in names if key[:3] and n.lower().startswith(key[:3])][:5]
        if close:
            return "did you mean " + ", ".join(close) + "?"
        if names:
            shown = ", ".join(names[:8]) + (" ..." if len(names) > 8 else "")
            return f"known hosts: {shown}"
        return "the inventory is empty: add [[servers]] / [[clients]] to the config"

    def _common(self, entry: HostOverrides) -> dict[str, Any]:
        winrm = self._settings.winrm
        return {
            "transport": entry.transport or winrm.transport,
            "username": entry.username or winrm.username,
            "password_file": entry.password_file or winrm.password_file,
            "verify_tls": winrm.verify_tls if entry.verify_tls is None else entry.verify_tls,
            "ca_bundle": entry.ca_bundle or winrm.ca_bundle,
            "cert_pem": winrm.cert_pem,
            "cert_key_pem": winrm.cert_key_pem,
            "os": entry.os,
            "message_encryption": entry.message_encryption or winrm.message_encryption,
            "kerberos_hostname_override": entry.kerberos_hostname_override,
        }

    def _server_target(self, entry: ServerEntry) -> HostTarget:
        return HostTarget(
            name=entry.name,
            role="server",
            address=entry.address,
            winrm_url=entry.winrm_url or _default_winrm_url(entry.address),
            groups=entry.groups,
            wsus_url=entry.wsus_url or f"http://{_url_host(entry.address)}:8530",
            selfupdate_url=entry.selfupdate_url or f"http://{_url_host(entry.address)}",
            **self._common(entry),
        )

    def _client_target(self, entry: ClientEntry) -> HostTarget:
        server = self._servers.get(entry.server.lower()) if entry.server else None
        server_target = self._server_target(server) if server else None
        return HostTarget(
            name=entry.name,
            role="client",
            address=entry.address,
            winrm_url=entry.winrm_url or _default_winrm_url(entry.address),
            groups=entry.groups,
            wsus_url=server_target.wsus_url if server_target else None,
            selfupdate_url=server_target.selfupdate_url if server_target else None,
            server=server.name if server else None,
            **self._common(entry),
        )

    def _pattern_target(self, name: str, pattern: PatternEntry) -> HostTarget:
        server = self._servers.get(pattern.server.lower()) if pattern.server else None
        server_target = self._server_target(server) if server else None
        common = self._common(pattern)
        if pattern.kerberos_hostname_override:
            common["kerberos_hostname_override"] = pattern.kerberos_hostname_override.replace(
                "{host}", name
            )
        return HostTarget(
            name=name,
            role=pattern.role,
            address=name,
            winrm_url=pattern.winrm_url.replace("{host}", _url_host(name)),
            groups=pattern.groups,
            wsus_url=server_target.wsus_url if server_target else None,
            selfupdate_url=server_target.selfupdate_url if server_target else None,
            server=server.name if server else None,
            **common,
        )


def _url_host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def _default_winrm_url(address: str) -> str:
    return f"http://{_url_host(address)}:5985/wsman"
