"""IIS helpers shared by the server checks: which site serves port 80, vdir lookup, and
which WSUS generation a server is (it decides where the self-update tree lives)."""

from __future__ import annotations

import enum
from collections.abc import Sequence

from checks.facts import Site, VirtualDir, WsusInfo
from checks.versions import VersionError, parse_version


def is_started(site: Site) -> bool:
    return (site.state or "").strip().lower() == "started"


def serves_http_port80(site: Site) -> bool:
    return any(
        (binding.protocol or "").strip().lower() == "http" and binding.port == 80
        for binding in site.bindings or ()
    )


def port80_sites(sites: Sequence[Site]) -> list[Site]:
    """Sites with an http binding on port 80, started ones first."""
    bound = [site for site in sites if serves_http_port80(site)]
    return sorted(bound, key=lambda site: not is_started(site))


def port80_site(sites: Sequence[Site]) -> Site | None:
    """The site IIS serves port 80 with: the started one if any, else a stopped one."""
    bound = port80_sites(sites)
    return bound[0] if bound else None


def site_label(site: Site) -> str:
    return repr(site.name) if site.name else f"site id {site.id}"


def normalize_vdir(path: str) -> str:
    return path.strip().strip("/").lower()


def find_vdir(site: Site, name: str) -> VirtualDir | None:
    wanted = normalize_vdir(name)
    for vdir in site.vdirs or ():
        if vdir.path is not None and normalize_vdir(vdir.path) == wanted:
            return vdir
    return None


def describe_bindings(site: Site) -> str:
    parts = [
        f"{binding.protocol}:{binding.port}" + (f":{binding.host}" if binding.host else "")
        for binding in site.bindings or ()
    ]
    return ", ".join(parts) or "no bindings"


# ---------------------------------------------------------------- WSUS generations
#
# What a WSUS server serves depends on its generation (docs/catalogue.md, issue 11 point 6):
#
# - WSUS 2.0 and 3.x put the self-update tree (Selfupdate vdir, /iuident.cab in the site
#   root) on a port-80 site even when WSUS itself listens on 8530; the Operations Guides test
#   http://<server>/selfupdate/wuident.cab and InstallSelfupdateOnPort80.vbs creates it
#   (Cc708554 §4, dd939801 "Check for the self-update tree on the WSUS server":
#   https://learn.microsoft.com/en-us/previous-versions/windows/it-pro/windows-server-2008-R2-and-2008/dd939801(v=ws.10)).
# - [MS-WUSP] 2.1 puts the self-update directory on the protocol's commonPort, the WSUS
#   port; port 80 and the root files are a requirement of the legacy (0.9) protocol of
#   NT 5.x agents only (https://msdn.microsoft.com/en-us/library/cc251951.aspx). For the WSUS
#   role of Windows Server 2012 and later the bot therefore only requires the tree on the
#   WSUS site; that 2012+ setup no longer installs it on port 80 is **not verified**.
#
# Version numbers: VersionString "3.2.7600.x" is WSUS 3.0 SP2 (Appendix G: Detect the
# Version of WSUS, http://technet.microsoft.com/en-us/library/cc720492(WS.10).aspx); 2.x for
# WSUS 2.0 (file version of WsusUtil.exe) and major >= 4 for the role (its binaries carry
# the OS build, 6.2.9200 / 6.3.9600 / 10.0.x) are **not verified**.


class WsusGeneration(enum.Enum):
    WSUS2 = "WSUS 2.0"
    WSUS3 = "WSUS 3.x"
    ROLE = "the WSUS role of Windows Server 2012 or later"

    @property
    def legacy_port80(self) -> bool:
        """True when this generation serves the self-update tree on a port-80 site."""
        return self is not WsusGeneration.ROLE


def wsus_generation(wsus: WsusInfo | None) -> WsusGeneration | None:
    """The generation of a WSUS server from ``wsus.version``; None when unknown."""
    if wsus is None or not wsus.version:
        return None
    try:
        major = parse_version(wsus.version)[0]
    except VersionError:
        return None
    if major == 2:
        return WsusGeneration.WSUS2
    if major == 3:
        return WsusGeneration.WSUS3
    if major >= 4:
        return WsusGeneration.ROLE
    return None


def describe_version(wsus: WsusInfo | None) -> str:
    version = wsus.version if wsus else None
    generation = wsus_generation(wsus)
    if generation is None:
        return (
            f"WSUS version {version!r} (generation unknown)" if version else "WSUS version unknown"
        )
    return f"WSUS version {version} ({generation.value})"


def wsus_site(sites: Sequence[Site], wsus: WsusInfo | None) -> Site | None:
    """The site serving WSUS: bound to ``wsus.port``, else the one holding ClientWebService."""
    port = wsus.port if wsus else None
    if port is not None:
        for site in sites:
            if any(binding.port == port for binding in site.bindings or ()):
                return site
    for site in sites:
        if find_vdir(site, "ClientWebService") is not None:
            return site
    return None
