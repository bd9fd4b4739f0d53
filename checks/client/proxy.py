"""client.proxy: the WinHTTP proxy the agent uses lets the WSUS host through directly.

A proxy in the way is a ``warn``, not a ``fail``: many proxies forward intranet requests
fine, and whether this one does is what ``client.selfupdate_reachable`` measures. This
check explains the likely cause when that one fails.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase

from checks._support import missing, probe_errors, url_host
from checks.facts import ClientFacts
from checks.model import Check, CheckContext, CheckMeta, Finding, FindingBuilder, Severity

META = CheckMeta(
    id="client.proxy",
    role="client",
    title="The WinHTTP proxy bypasses the WSUS server",
    severity=Severity.MEDIUM,
    seed=(),
    reads=("proxy.winhttp", "proxy.bypass[]", "policy.WUServer"),
    remediation=(
        "The update agent uses the WinHTTP proxy, not the browser's. Add the WSUS host to "
        'the bypass list (netsh winhttp set proxy <proxy:port> bypass-list="<wsus host>;'
        '<local>"; on XP/2003: proxycfg -p <proxy:port> "<wsus host>;<local>"), or make '
        "sure the proxy forwards requests to the WSUS server."
    ),
    fix=None,
    description="Checks that, when a WinHTTP proxy is set, the WSUS host is in its bypass "
    "list (wildcards like *.corp and <local> for dotless names).",
)

_BUILD = FindingBuilder(META)

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_PORT = re.compile(r":\d+$")


def _no_proxy(setting: str | None) -> bool:
    text = (setting or "").strip().lower()
    return not text or "direct access" in text


def bypass_entries(bypass: list[str]) -> list[str]:
    """Split ``"a;b <local>"`` style entries into single patterns."""
    return [part for item in bypass for part in re.split(r"[;,\s]+", item) if part]


def bypassed(host: str, entries: list[str]) -> str | None:
    """The bypass entry that lets ``host`` go direct, if any."""
    name = host.lower().rstrip(".")
    for entry in entries:
        if entry.lower() == "<local>":
            if "." not in name and ":" not in name:
                return entry
            continue
        pattern = _PORT.sub("", _SCHEME.sub("", entry.strip())).lower().rstrip("/")
        if pattern and fnmatchcase(name, pattern):
            return entry
    return None


def _wsus_host(facts: ClientFacts, ctx: CheckContext) -> tuple[str | None, str]:
    configured = facts.policy.WUServer if facts.policy else None
    for origin, url in (("WUServer", configured), ("inventory WSUS URL", ctx.expected_wsus_url)):
        host = url_host(url) if url else None
        if host:
            return host, f"WSUS host {host} (from {origin})"
    return None, "no WSUS host known (WUServer unset and no inventory URL)"


def evaluate(facts: ClientFacts, ctx: CheckContext) -> Finding:
    proxy = facts.proxy
    if proxy is None:
        return missing(_BUILD, "proxy", facts.errors, "proxy")
    if _no_proxy(proxy.winhttp):
        errors = probe_errors(facts.errors, "proxy")
        if proxy.winhttp is None and errors:
            return _BUILD.unknown("Could not read the WinHTTP proxy setting.", errors)
        return _BUILD.passed(
            "No WinHTTP proxy: the agent connects directly.",
            [f"WinHTTP proxy: {proxy.winhttp or 'none'}"],
        )
    host, origin = _wsus_host(facts, ctx)
    entries = bypass_entries(proxy.bypass or [])
    evidence = [
        f"WinHTTP proxy: {proxy.winhttp}",
        "bypass list: " + ("; ".join(entries) or "empty"),
        origin,
    ]
    if host is None:
        return _BUILD.unknown(
            "A WinHTTP proxy is set, but there is no WSUS host to compare the bypass list with.",
            evidence,
        )
    match = bypassed(host, entries)
    if match is not None:
        return _BUILD.passed(f"The proxy bypasses {host} (entry {match!r}).", evidence)
    return _BUILD.warn(
        f"The agent sends its requests for {host} through the proxy {proxy.winhttp}.",
        evidence,
        next_step=(
            f"Add {host} to the WinHTTP bypass list, or confirm the proxy forwards to it "
            "(see client.selfupdate_reachable)."
        ),
    )


CHECK = Check(META, evaluate)
