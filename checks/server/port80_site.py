"""server.port80_site: a started IIS site serves http on port 80 (seed §4)."""

from __future__ import annotations

from checks._support import missing
from checks.facts import ServerFacts
from checks.model import Check, CheckContext, CheckMeta, Finding, FindingBuilder, Severity
from checks.server._support import describe_bindings, is_started, port80_sites, site_label

META = CheckMeta(
    id="server.port80_site",
    role="server",
    title="A started IIS site is bound to port 80",
    severity=Severity.CRITICAL,
    seed=("§4",),
    reads=("iis.sites[].bindings", "iis.sites[].state"),
    remediation=(
        "Clients fetch the self-update files from port 80 even when WSUS itself listens on "
        "8530 or another port. Bind (or start) an IIS site on http port 80 — it does not "
        "have to be dedicated to WSUS — then run InstallSelfupdateOnPort80.vbs from the WSUS "
        "setup folder so that site gets the Selfupdate virtual directory."
    ),
    fix="server.install_selfupdate_port80",
    description="Checks that some started IIS site has an http binding on port 80.",
)

_BUILD = FindingBuilder(META)


def evaluate(facts: ServerFacts, _ctx: CheckContext) -> Finding:
    sites = facts.iis.sites if facts.iis else None
    if sites is None:
        return missing(_BUILD, "iis.sites", facts.errors, "iis")
    inventory = [f"{site_label(site)} ({site.state}): {describe_bindings(site)}" for site in sites]
    bound = port80_sites(sites)
    started = [site for site in bound if is_started(site)]
    if started:
        return _BUILD.passed(f"Site {site_label(started[0])} serves http on port 80.", inventory)
    if any(site.state is None for site in bound):
        return _BUILD.unknown(
            "A site is bound to port 80 but its state could not be read.", inventory
        )
    if bound:
        names = ", ".join(site_label(site) for site in bound)
        return _BUILD.fail(
            f"The port-80 site {names} is not started, so clients cannot self-update.",
            inventory,
            next_step=f"Start {names} in IIS Manager (or `appcmd start site`), then re-check.",
            fix=False,
        )
    if not sites:
        return _BUILD.fail(
            "IIS has no sites at all, so nothing serves the self-update tree on port 80.",
            ["iis.sites is empty"],
            next_step="Create an IIS site bound to http port 80 (the Default Web Site is "
            "fine), then run InstallSelfupdateOnPort80.vbs from the WSUS setup folder.",
            fix=False,
        )
    return _BUILD.fail(
        "No IIS site is bound to http port 80, so clients cannot fetch the self-update tree.",
        inventory,
        next_step="Add an http binding on port 80 to an existing site (or create one), then "
        "run the fix: it installs the Selfupdate tree on the port-80 site.",
    )


CHECK = Check(META, evaluate)
