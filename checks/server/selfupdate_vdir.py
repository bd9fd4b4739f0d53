"""server.selfupdate_vdir: the Selfupdate vdir exists where this WSUS version serves it (§4).

WSUS 2.0 and 3.x: on the port-80 site (Cc708554 §4; dd939801, "Check for the self-update
tree on the WSUS server"). The WSUS role of Windows Server 2012 and later: on the WSUS site
itself ([MS-WUSP] 2.1: the self-update directory is on the protocol's commonPort,
https://msdn.microsoft.com/en-us/library/cc251951.aspx); see checks/server/_support.py.
"""

from __future__ import annotations

from checks._support import missing
from checks.facts import ServerFacts, Site
from checks.model import Check, CheckContext, CheckMeta, Finding, FindingBuilder, Severity
from checks.server._support import (
    WsusGeneration,
    describe_version,
    find_vdir,
    is_started,
    port80_site,
    site_label,
    wsus_generation,
    wsus_site,
)

META = CheckMeta(
    id="server.selfupdate_vdir",
    role="server",
    title="The self-update tree has its Selfupdate virtual directory",
    severity=Severity.CRITICAL,
    seed=("§4",),
    reads=("iis.sites[].bindings", "iis.sites[].vdirs", "wsus.version", "wsus.port"),
    remediation=(
        "Run InstallSelfupdateOnPort80.vbs (in the setup folder of the WSUS installation) "
        "with cscript on the WSUS server; it creates the Selfupdate virtual directory on the "
        "site bound to port 80 and points it at the WSUS self-update content."
    ),
    fix="server.install_selfupdate_port80",
    description="Checks that the site serving the self-update tree (the port-80 site for "
    "WSUS 2.0/3.x, the WSUS site for WSUS 2012+) has a Selfupdate virtual directory whose "
    "physical path exists.",
)

_BUILD = FindingBuilder(META)


def _judge(facts: ServerFacts, site: Site, where: str, *, fixable: bool) -> Finding:
    label = site_label(site)
    if site.vdirs is None:
        return missing(_BUILD, f"iis.sites[{label}].vdirs", facts.errors, "iis")
    vdir = find_vdir(site, "Selfupdate")
    listed = ", ".join(str(v.path) for v in site.vdirs) or "none"
    version = describe_version(facts.wsus)
    script = facts.wsus.selfupdate_script_present if facts.wsus else None
    offer = fixable and script is not False
    next_step = (
        None
        if offer
        else (
            f"Recreate the Selfupdate virtual directory on {label} (pointing at <WSUS "
            "install dir>\\Selfupdate, anonymous access on) or repair the WSUS installation. "
            "The bot's port-80 fix does not apply here: "
            + (
                "InstallSelfupdateOnPort80.vbs is not in the WSUS setup folder."
                if script is False
                else "it installs into a started port-80 site, and this is not one."
            )
        )
    )
    if vdir is None:
        return _BUILD.fail(
            f"The {where} {label} has no Selfupdate virtual directory.",
            [f"virtual directories of {label}: {listed}", version],
            next_step=next_step,
            fix=None if offer else False,
        )
    path = f"{label}{vdir.path} -> {vdir.physical_path}"
    if vdir.exists is None:
        return _BUILD.unknown(
            "Could not tell whether the Selfupdate physical path exists.",
            [f"{path}: existence not reported"],
        )
    if not vdir.exists:
        return _BUILD.fail(
            "The Selfupdate virtual directory points at a folder that does not exist.",
            [f"{path}: folder missing", version],
            next_step=next_step,
            fix=None if offer else False,
        )
    return _BUILD.passed(
        f"Selfupdate is present on {label} (the {where}).", [f"{path}: folder exists", version]
    )


def evaluate(facts: ServerFacts, _ctx: CheckContext) -> Finding:
    sites = facts.iis.sites if facts.iis else None
    if sites is None:
        return missing(_BUILD, "iis.sites", facts.errors, "iis")
    generation = wsus_generation(facts.wsus)
    front = port80_site(sites)
    if generation is WsusGeneration.ROLE:
        site = wsus_site(sites, facts.wsus)
        if site is None:
            return _BUILD.skip(
                "No site serves the WSUS port (see server.clientwebservice_http), so there "
                "is no WSUS site to hold the self-update tree."
            )
        # the port-80 fix installs into the port-80 site, which is not where 2012+ needs it
        return _judge(facts, site, "WSUS site", fixable=False)
    if front is None:
        return _BUILD.skip("No site is bound to port 80 (see server.port80_site).")
    fixable = is_started(front)
    if generation is None and (facts.wsus is None or facts.wsus.installed is not False):
        finding = _judge(facts, front, "port-80 site", fixable=fixable)
        if finding.status.value in ("pass", "unknown"):
            return finding
        site = wsus_site(sites, facts.wsus)
        held = site is not None and find_vdir(site, "Selfupdate") is not None
        if held and site is not None:
            return _BUILD.unknown(
                f"The port-80 site has no usable Selfupdate tree but the WSUS site "
                f"{site_label(site)} has one; which one clients use depends on the WSUS "
                "version, which could not be read.",
                [*finding.evidence, describe_version(facts.wsus)],
            )
        return finding
    return _judge(facts, front, "port-80 site", fixable=fixable)


CHECK = Check(META, evaluate)
