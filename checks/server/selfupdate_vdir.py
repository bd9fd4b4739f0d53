"""server.selfupdate_vdir: the port-80 site has a Selfupdate vdir on disk (seed §4)."""

from __future__ import annotations

from checks._support import missing
from checks.facts import ServerFacts
from checks.model import Check, CheckContext, CheckMeta, Finding, FindingBuilder, Severity
from checks.server._support import find_vdir, port80_site, site_label

META = CheckMeta(
    id="server.selfupdate_vdir",
    role="server",
    title="The port-80 site has a Selfupdate virtual directory",
    severity=Severity.CRITICAL,
    seed=("§4",),
    reads=("iis.sites[].bindings", "iis.sites[].vdirs"),
    remediation=(
        "Run InstallSelfupdateOnPort80.vbs (in the setup folder of the WSUS installation) "
        "with cscript on the WSUS server; it creates the Selfupdate virtual directory on the "
        "site bound to port 80 and points it at the WSUS self-update content."
    ),
    fix="server.install_selfupdate_port80",
    description="Checks that the site serving port 80 has a Selfupdate virtual directory "
    "whose physical path exists.",
)

_BUILD = FindingBuilder(META)


def evaluate(facts: ServerFacts, _ctx: CheckContext) -> Finding:
    sites = facts.iis.sites if facts.iis else None
    if sites is None:
        return missing(_BUILD, "iis.sites", facts.errors, "iis")
    site = port80_site(sites)
    if site is None:
        return _BUILD.skip("No site is bound to port 80 (see server.port80_site).")
    label = site_label(site)
    if site.vdirs is None:
        return missing(_BUILD, f"iis.sites[{label}].vdirs", facts.errors, "iis")
    vdir = find_vdir(site, "Selfupdate")
    listed = ", ".join(str(v.path) for v in site.vdirs) or "none"
    if vdir is None:
        return _BUILD.fail(
            f"The port-80 site {label} has no Selfupdate virtual directory.",
            [f"virtual directories of {label}: {listed}"],
        )
    where = f"{label}{vdir.path} -> {vdir.physical_path}"
    if vdir.exists is None:
        return _BUILD.unknown(
            "Could not tell whether the Selfupdate physical path exists.",
            [f"{where}: existence not reported"],
        )
    if not vdir.exists:
        return _BUILD.fail(
            "The Selfupdate virtual directory points at a folder that does not exist.",
            [f"{where}: folder missing"],
        )
    return _BUILD.passed(f"Selfupdate is present on {label}.", [f"{where}: folder exists"])


CHECK = Check(META, evaluate)
