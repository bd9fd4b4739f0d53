"""server.anonymous_auth: anonymous access on the site root, ClientWebService and
Selfupdate (seed §6, step 1)."""

from __future__ import annotations

from checks._support import missing
from checks.facts import ServerFacts, Site
from checks.model import Check, CheckContext, CheckMeta, Finding, FindingBuilder, Severity
from checks.server._support import find_vdir, port80_site, site_label

META = CheckMeta(
    id="server.anonymous_auth",
    role="server",
    title="Anonymous authentication is on for the self-update paths",
    severity=Severity.HIGH,
    seed=("§6",),
    reads=("iis.sites[].anonymous_auth", "iis.sites[].vdirs[].anonymous_auth"),
    remediation=(
        "Clients download the self-update files without credentials. In IIS Manager, open "
        "Authentication on the WSUS site root and on its ClientWebService and Selfupdate "
        "virtual directories (and on the port-80 site) and enable Anonymous Authentication."
    ),
    fix="server.enable_anonymous_auth",
    description="Checks anonymous authentication on the site root, ClientWebService and "
    "Selfupdate of the sites that serve them.",
)

_BUILD = FindingBuilder(META)

_VDIRS = ("ClientWebService", "Selfupdate")


def _relevant_sites(sites: list[Site]) -> list[Site]:
    """Sites holding a WSUS vdir, plus the port-80 site (it serves /iuident.cab)."""
    chosen = [site for site in sites if any(find_vdir(site, name) for name in _VDIRS)]
    front = port80_site(sites)
    if front is not None and all(front is not site for site in chosen):
        chosen.append(front)
    return chosen


def evaluate(facts: ServerFacts, _ctx: CheckContext) -> Finding:
    sites = facts.iis.sites if facts.iis else None
    if sites is None:
        return missing(_BUILD, "iis.sites", facts.errors, "iis")
    relevant = _relevant_sites(sites)
    if not relevant:
        return _BUILD.skip(
            "No site holds ClientWebService or Selfupdate and none is bound to port 80 "
            "(see server.port80_site)."
        )
    settings: list[tuple[str, bool | None]] = []
    for site in relevant:
        label = site_label(site)
        settings.append((f"{label} (site root)", site.anonymous_auth))
        for name in _VDIRS:
            vdir = find_vdir(site, name)
            if vdir is not None:
                settings.append((f"{label}/{name}", vdir.anonymous_auth))
    evidence = [
        f"{where}: anonymous {'unknown' if on is None else ('enabled' if on else 'DISABLED')}"
        for where, on in settings
    ]
    disabled = [where for where, on in settings if on is False]
    if disabled:
        return _BUILD.fail(
            "Anonymous authentication is disabled on " + ", ".join(disabled) + ".", evidence
        )
    if any(on is None for _, on in settings):
        return _BUILD.unknown("Could not read every anonymous-authentication setting.", evidence)
    return _BUILD.passed("Anonymous authentication is enabled where clients need it.", evidence)


CHECK = Check(META, evaluate)
