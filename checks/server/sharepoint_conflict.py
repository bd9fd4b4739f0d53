"""server.sharepoint_conflict: SharePoint does not swallow the self-update paths (§6).

Decided by the SharePoint version (``iis.sites[].sharepoint.version``):

- **WSS 2.0** (``6.0.x``): managed paths are included *or excluded*; an excluded path is
  "managed by a different application" and exclusions take precedence over inclusions
  (Managing Paths (Windows SharePoint Services 2.0),
  https://learn.microsoft.com/en-us/previous-versions/tn-archive/cc287929(v=office.12)).
  The seed asks for the four self-update paths to be excluded (Cc708554 §6).
- **WSS 3.0 / MOSS 2007 and later** (``12.0`` and up): ``stsadm -o addpath`` "adds a
  managed path inclusion", ``-type`` explicit or wildcard inclusion only
  (https://learn.microsoft.com/en-us/previous-versions/office/sharepoint-2007-products-and-technologies/cc288781(v=office.12));
  ``SPPrefixType.Exclusion`` is obsolete: files, folders and virtual directories found in
  the web application's IIS home directory are excluded automatically
  (https://learn.microsoft.com/en-us/previous-versions/office/developer/sharepoint-services/ms464544(v=office.12)).
  So a 3.0+ server fails only when an inclusion claims a self-update path: an explicit or
  wildcard inclusion at the path (or inside it), or a wildcard inclusion above it (only the
  root ``/`` or ``/*`` is above these first-level paths: warn, since an existing vdir or file
  is still auto-excluded). Anonymous access itself is server.anonymous_auth's finding.
- Unknown version: the exclusions the probe read decide when they cover every path
  (only WSS 2.0 has exclusions); otherwise the verdict depends on the version: unknown.
"""

from __future__ import annotations

from checks._support import missing
from checks.facts import ManagedPath, ServerFacts, SharePointInfo
from checks.model import Check, CheckContext, CheckMeta, Finding, FindingBuilder, Severity
from checks.server._support import normalize_vdir, port80_site, site_label
from checks.versions import VersionError, parse_version

META = CheckMeta(
    id="server.sharepoint_conflict",
    role="server",
    title="SharePoint leaves the self-update paths alone",
    severity=Severity.HIGH,
    seed=("§6",),
    reads=(
        "iis.sites[].sharepoint.version",
        "iis.sites[].sharepoint.excluded_paths",
        "iis.sites[].sharepoint.managed_paths",
    ),
    remediation=(
        "SharePoint on the port-80 site answers the self-update requests itself (access "
        "denied). WSS 2.0: add excluded managed paths for /iuident.cab, /wutrack.bin, "
        "/clientwebservice and /Selfupdate. WSS 3.0 and later have no exclusions: remove "
        "the managed-path inclusion that claims the self-update path, or move SharePoint "
        "off the port-80 site."
    ),
    fix="server.sharepoint_exclude_paths",
    description="Checks that SharePoint on the port-80 site does not claim the self-update "
    "paths: excluded on WSS 2.0, not claimed by a managed-path inclusion on 3.0 and later.",
)

_BUILD = FindingBuilder(META)

#: seed §6 (Cc708554); dd939801 lists three of them, without /wutrack.bin (catalogue D10)
REQUIRED_EXCLUSIONS = ("/iuident.cab", "/wutrack.bin", "/clientwebservice", "/Selfupdate")


def sharepoint_major(info: SharePointInfo) -> int | None:
    """6 (WSS 2.0), 12 (WSS 3.0 / MOSS 2007), 14, 15, 16; None when unknown."""
    if not info.version:
        return None
    try:
        return parse_version(info.version)[0]
    except VersionError:
        return None


def _norm(path: str) -> str:
    return "/" + normalize_vdir(path)


def _claims(prefix: ManagedPath, target: str) -> str | None:
    """'fail' / 'warn' when the inclusion ``prefix`` claims ``target``, else None."""
    kind = (prefix.kind or "").strip().lower()
    if kind not in ("explicit", "wildcard") or prefix.path is None:
        return None
    raw = prefix.path.strip()
    root_wildcard = raw in ("*", "/*") or (kind == "wildcard" and _norm(raw) == "/")
    path = _norm(raw.rstrip("*"))
    wanted = _norm(target)
    if root_wildcard:
        return "warn"
    if path == "/":
        return None  # an explicit inclusion of the root claims the root site only
    if wanted == path or wanted.startswith(path + "/"):
        return "fail"
    if path.startswith(wanted + "/"):
        return "fail"  # a site collection inside the self-update tree
    return None


def _modern(facts: ServerFacts, label: str, info: SharePointInfo, major: int) -> Finding:
    if info.managed_paths is None:
        return missing(
            _BUILD, f"iis.sites[{label}].sharepoint.managed_paths", facts.errors, "sharepoint"
        )
    listed = ", ".join(f"{p.path} ({p.kind})" for p in info.managed_paths) or "none"
    evidence = [
        f"SharePoint {info.version} (major {major}: inclusions only) on {label}",
        "managed paths: " + listed,
    ]
    hard: list[str] = []
    soft: list[str] = []
    for target in REQUIRED_EXCLUSIONS:
        for prefix in info.managed_paths:
            verdict = _claims(prefix, target)
            if verdict == "fail":
                hard.append(f"{target} (claimed by {prefix.kind} inclusion {prefix.path})")
            elif verdict == "warn":
                soft.append(f"{target} (under wildcard inclusion {prefix.path})")
    next_step = (
        f"On {label}: stsadm -o deletepath -url http://<server><path> for the conflicting "
        "inclusion (or Central Administration > Define managed paths > delete it), or move "
        "SharePoint to another IIS site/port; then iisreset and press 'Mark done'."
    )
    if hard:
        return _BUILD.fail(
            f"SharePoint on {label} claims " + ", ".join(hard) + ".",
            [*evidence, *(f"also: {item}" for item in soft)],
            next_step=next_step,
        )
    if soft:
        return _BUILD.warn(
            f"A root wildcard inclusion on {label} makes every first-level path a SharePoint "
            "site; existing vdirs and files are excluded automatically, but a missing "
            "Selfupdate tree or cab would be answered by SharePoint: " + ", ".join(soft) + ".",
            evidence,
            next_step=next_step,
        )
    return _BUILD.passed(
        f"No SharePoint managed path on {label} claims a self-update path (SharePoint "
        f"{info.version} excludes existing IIS virtual directories and files itself).",
        evidence,
    )


def _legacy(facts: ServerFacts, label: str, info: SharePointInfo, known: bool) -> Finding:
    excluded_list = info.excluded_paths
    if excluded_list is None and info.managed_paths is not None:
        excluded_list = [
            p.path for p in info.managed_paths if p.path and (p.kind or "").lower() == "exclusion"
        ]
    if excluded_list is None:
        return missing(
            _BUILD, f"iis.sites[{label}].sharepoint.excluded_paths", facts.errors, "sharepoint"
        )
    excluded = {normalize_vdir(path) for path in excluded_list}
    absent = [path for path in REQUIRED_EXCLUSIONS if normalize_vdir(path) not in excluded]
    version = f"SharePoint {info.version} (WSS 2.0)" if known else "SharePoint version unknown"
    evidence = [
        f"{version} on {label}",
        "excluded paths: " + (", ".join(excluded_list) or "none"),
    ]
    if not absent:
        return _BUILD.passed(f"SharePoint on {label} excludes every self-update path.", evidence)
    if not known:
        return _BUILD.unknown(
            f"SharePoint on {label} does not exclude " + ", ".join(absent) + "; that matters "
            "on WSS 2.0 only (3.0 and later have no exclusions), and the SharePoint version "
            "could not be read.",
            evidence,
        )
    return _BUILD.fail(
        f"SharePoint on {label} intercepts " + ", ".join(absent) + ".",
        [*evidence, "not excluded: " + ", ".join(absent)],
        next_step=(
            "WSS 2.0: for each path run stsadm -o addpath -url http://<server><path> -type "
            "exclusion, allow anonymous access on them, iisreset, then press 'Mark done'."
        ),
    )


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
    major = sharepoint_major(sharepoint)
    if major is not None and major >= 12:
        return _modern(facts, label, sharepoint, major)
    return _legacy(facts, label, sharepoint, known=major is not None)


CHECK = Check(META, evaluate)
