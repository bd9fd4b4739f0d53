"""IIS helpers shared by the server checks: which site serves port 80, vdir lookup."""

from __future__ import annotations

from collections.abc import Sequence

from checks.facts import Site, VirtualDir


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
