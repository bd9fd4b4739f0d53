"""client.policy_wuserver: WUServer and WUStatusServer name the right WSUS server (§9)."""

from __future__ import annotations

from urllib.parse import urlsplit

from checks._support import missing, probe_errors
from checks.facts import ClientFacts
from checks.model import Check, CheckContext, CheckMeta, Finding, FindingBuilder, Severity

META = CheckMeta(
    id="client.policy_wuserver",
    role="client",
    title="WUServer and WUStatusServer point at the WSUS server",
    severity=Severity.CRITICAL,
    seed=("§9",),
    reads=("policy.WUServer", "policy.WUStatusServer"),
    remediation=(
        "Set 'Specify intranet Microsoft update service location' in the GPO that applies "
        "to this computer, with the same WSUS URL (http://server:port) for both the update "
        "and the statistics server, then run gpupdate /force. A value written directly into "
        "HKLM\\Software\\Policies\\Microsoft\\Windows\\WindowsUpdate is overwritten by "
        "domain policy."
    ),
    fix="client.set_wsus_policy",
    description="Checks that WUServer and WUStatusServer are set, are http(s) URLs, agree "
    "with each other and with the inventory's WSUS URL.",
)

_BUILD = FindingBuilder(META)

_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_url(url: str) -> str | None:
    """A comparable form of an http(s) URL, or None when it is not one with a host.

    Case-insensitive, trailing slash ignored, the scheme's default port dropped.
    """
    text = url.strip()
    if not text or any(ch.isspace() for ch in text):
        return None
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    netloc = parts.hostname.lower()
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc += f":{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/').lower()}"


def _endpoint(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a URL normalize_url accepted; the default port filled in."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or _DEFAULT_PORTS[scheme]


def _mismatch(configured: str, expected: str) -> str:
    """Why WUServer differs from the inventory URL, port and scheme named explicitly.

    WSUS listens on 80/443 (Default Web Site) or 8530/8531 (custom site), and a client
    whose WUServer names another port reaches nothing there (third-party:
    https://yamanyon.hatenadiary.org/entry/20120725/1343199331; catalogue [S7], [S26])."""
    scheme, host, port = _endpoint(configured)
    want_scheme, want_host, want_port = _endpoint(expected)
    if host == want_host and (scheme, port) != (want_scheme, want_port):
        return (
            f"Port mismatch: the client's WUServer {configured} names {scheme}:{port}, but "
            f"its WSUS server listens on {want_scheme}:{want_port} ({expected}); the "
            "client's scans go to a port where WSUS does not answer."
        )
    if host == want_host:
        return (
            f"The client's WUServer {configured} names the right server and port but "
            f"another path than the inventory's {expected}."
        )
    return f"The client points at {configured}, not at its WSUS server {expected}."


def evaluate(facts: ClientFacts, ctx: CheckContext) -> Finding:
    policy = facts.policy
    if policy is None:
        return missing(_BUILD, "policy", facts.errors, "policy")
    values = {"WUServer": policy.WUServer, "WUStatusServer": policy.WUStatusServer}
    evidence = [f"{name} = {value!r}" for name, value in values.items()]
    if ctx.expected_wsus_url:
        evidence.append(f"inventory WSUS URL = {ctx.expected_wsus_url!r}")
    absent = [name for name, value in values.items() if value is None or not value.strip()]
    if absent:
        errors = probe_errors(facts.errors, "policy")
        if errors:
            return _BUILD.unknown("Could not read " + ", ".join(absent) + ".", evidence + errors)
        return _BUILD.fail(
            ", ".join(absent) + " not set: the client does not know its WSUS server.", evidence
        )
    normalized = {name: normalize_url(value or "") for name, value in values.items()}
    malformed = [name for name, value in normalized.items() if value is None]
    if malformed:
        return _BUILD.fail(
            ", ".join(malformed) + " is not an http(s) URL with a host name.", evidence
        )
    if normalized["WUServer"] != normalized["WUStatusServer"]:
        return _BUILD.fail("WUServer and WUStatusServer name different servers.", evidence)
    if ctx.expected_wsus_url:
        expected = normalize_url(ctx.expected_wsus_url)
        if expected is not None and normalized["WUServer"] != expected:
            return _BUILD.fail(_mismatch(policy.WUServer or "", ctx.expected_wsus_url), evidence)
        if expected is None:
            evidence.append("the inventory WSUS URL is not a valid URL; not compared")
    return _BUILD.passed(f"The client uses {policy.WUServer}.", evidence)


CHECK = Check(META, evaluate)
