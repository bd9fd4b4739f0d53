"""server.port80_site: a started IIS site serves http on port 80 (seed §4).

Which WSUS needs one (docs/catalogue.md D8/D9, issue 11): WSUS 2.0 and 3.x serve the
self-update tree on a port-80 site even when WSUS listens on 8530 (Cc708554 §4, dd939801);
[MS-WUSP] 2.1 puts the self-update directory on the WSUS port and keeps port 80 for the
legacy protocol of NT 5.x agents only (https://msdn.microsoft.com/en-us/library/cc251951.aspx),
so on the WSUS role of Windows Server 2012 and later a missing port-80 site is not a failure.

No fix is ever proposed here (D9): ``server.install_selfupdate_port80`` runs
InstallSelfupdateOnPort80.vbs, which needs a started port-80 site to install into, and this
check only fails when there is none.
"""

from __future__ import annotations

from checks._support import missing
from checks.facts import ServerFacts
from checks.model import Check, CheckContext, CheckMeta, Finding, FindingBuilder, Severity
from checks.server._support import (
    WsusGeneration,
    describe_bindings,
    describe_version,
    is_started,
    port80_sites,
    site_label,
    wsus_generation,
)

META = CheckMeta(
    id="server.port80_site",
    role="server",
    title="A started IIS site is bound to port 80",
    severity=Severity.CRITICAL,
    seed=("§4",),
    reads=("iis.sites[].bindings", "iis.sites[].state", "wsus.version", "wsus.port"),
    remediation=(
        "WSUS 2.0 and 3.x clients fetch the self-update files from port 80 even when WSUS "
        "itself listens on 8530. Bind (or start) an IIS site on http port 80 — it does not "
        "have to be dedicated to WSUS — then run InstallSelfupdateOnPort80.vbs from the WSUS "
        "setup folder so that site gets the Selfupdate virtual directory."
    ),
    fix=None,
    description="Checks that some started IIS site has an http binding on port 80 where "
    "the server's WSUS version serves the self-update tree there.",
)

_BUILD = FindingBuilder(META)

_MANUAL = (
    "Add an http binding on port 80 to an existing site (or create one; the Default Web "
    "Site is fine), then run InstallSelfupdateOnPort80.vbs from the WSUS setup folder — the "
    "bot's fix for that needs a started port-80 site, so it is offered once one exists "
    "(server.selfupdate_vdir)."
)


def evaluate(facts: ServerFacts, _ctx: CheckContext) -> Finding:
    sites = facts.iis.sites if facts.iis else None
    if sites is None:
        return missing(_BUILD, "iis.sites", facts.errors, "iis")
    inventory = [f"{site_label(site)} ({site.state}): {describe_bindings(site)}" for site in sites]
    bound = port80_sites(sites)
    started = [site for site in bound if is_started(site)]
    if started:
        return _BUILD.passed(f"Site {site_label(started[0])} serves http on port 80.", inventory)
    wsus = facts.wsus
    generation = wsus_generation(wsus)
    version = describe_version(wsus)
    if generation is WsusGeneration.ROLE and (wsus is None or wsus.port != 80):
        return _BUILD.skip(
            f"No started site serves port 80; {version} serves its self-update tree on the "
            f"WSUS port {wsus.port if wsus else '?'} ([MS-WUSP] commonPort), so a port-80 "
            "site matters only to NT 5.x agents (see client.selfupdate_reachable)."
        )
    if any(site.state is None for site in bound):
        return _BUILD.unknown(
            "A site is bound to port 80 but its state could not be read.", inventory
        )
    if generation is None and (wsus is None or wsus.installed is not False):
        return _BUILD.unknown(
            "No started site serves port 80, and whether this server needs one depends on "
            "its WSUS version, which could not be read.",
            [*inventory, version],
        )
    if bound:
        names = ", ".join(site_label(site) for site in bound)
        return _BUILD.fail(
            f"The port-80 site {names} is not started, so clients cannot self-update.",
            [*inventory, version],
            next_step=f"Start {names} in IIS Manager (or `appcmd start site`), then re-check.",
            fix=False,
        )
    if not sites:
        return _BUILD.fail(
            "IIS has no sites at all, so nothing serves the self-update tree on port 80.",
            ["iis.sites is empty", version],
            next_step=_MANUAL,
            fix=False,
        )
    return _BUILD.fail(
        "No IIS site is bound to http port 80, so clients cannot fetch the self-update tree.",
        [*inventory, version],
        next_step=_MANUAL,
        fix=False,
    )


CHECK = Check(META, evaluate)
