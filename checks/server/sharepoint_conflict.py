"""server.sharepoint_conflict: SharePoint does not swallow the self-update paths (§6)."""

from __future__ import annotations

from checks._support import missing
from checks.facts import ServerFacts
from checks.model import Check, CheckContext, CheckMeta, Finding, FindingBuilder, Severity
from checks.server._support import normalize_vdir, port80_site, site_label

META = CheckMeta(
    id="server.sharepoint_conflict",
    role="server",
    title="SharePoint leaves the self-update paths alone",
    severity=Severity.HIGH,
    seed=("§6",),
    reads=("iis.sites[].sharepoint",),
    remediation=(
        "SharePoint on the port-80 site answers the self-update requests itself (access "
        "denied). In SharePoint administration, define excluded managed paths for "
        "/iuident.cab, /wutrack.bin, /clientwebservice and /Selfupdate on that web "
        "application, and allow anonymous access to them."
    ),
    fix="server.sharepoint_exclude_paths",
    description="Checks that, where SharePoint runs on the port-80 site, the four "
    "self-update paths are excluded from it.",
)

_BUILD = FindingBuilder(META)

REQUIRED_EXCLUSIONS = ("/iuident.cab", "/wutrack.bin", "/clientwebservice", "/Selfupdate")


def evaluate(facts: ServerFacts, _ctx: CheckContext) -> Finding:
    sites = facts.iis.sites if facts.iis else None
    if sites is None:
        return missing(_BUILD, "iis.sites", facts.errors, "iis")
    site = port80_site(sites)
    if site is None:
        return _BUILD.skip("No site is bound to port 80 (see server.port80_site).")
    label = site_label(site)
    sharepoint = site.sharepoint
    if sharepoint is None or sharepoint.present is None:
        return missing(_BUILD, f"iis.sites[{label}].sharepoint", facts.errors, "iis", "sharepoint")
    if not sharepoint.present:
        return _BUILD.skip(f"SharePoint is not installed on {label}.")
    if sharepoint.excluded_paths is None:
        return missing(
            _BUILD, f"iis.sites[{label}].sharepoint.excluded_paths", facts.errors, "sharepoint"
        )
    excluded = {normalize_vdir(path) for path in sharepoint.excluded_paths}
    absent = [path for path in REQUIRED_EXCLUSIONS if normalize_vdir(path) not in excluded]
    evidence = [
        f"SharePoint present on {label}",
        "excluded paths: " + (", ".join(sharepoint.excluded_paths) or "none"),
    ]
    if absent:
        return _BUILD.fail(
            f"SharePoint on {label} intercepts " + ", ".join(absent) + ".",
            [*evidence, "not excluded: " + ", ".join(absent)],
        )
    return _BUILD.passed(f"SharePoint on {label} excludes every self-update path.", evidence)


CHECK = Check(META, evaluate)
