"""What an IIS site answers for a path, derived from the server's state.

No Selfupdate vdir -> 404 on /selfupdate/*; anonymous auth off -> 401; SharePoint
intercepting a path it does not exclude -> 401 (site demands login) or 403; a SUS server
(no ClientWebService vdir) -> 404; WsusPool stopped, or recycling at its private memory
limit under load -> 503 on the WSUS web services. SharePoint follows its version: WSS 2.0
answers what it does not exclude, 3.0+ only what an inclusion claims.
A scenario can override any path prefix with a fixed status and/or a delay.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lab.hosts.values import JsonDict

_CAB = b"MSCF\x00\x00\x00\x00" + bytes(range(256)) * 8
_ASMX = (
    b"<html><head><title>Client Web Service</title></head>"
    b"<body>The following operations are supported.</body></html>"
)


@dataclass(frozen=True)
class Reply:
    status: int
    substatus: int = 0
    win32_status: int = 0
    body: bytes = b""
    delay_s: float = 0.0
    content_type: str = "application/octet-stream"


def _not_found() -> Reply:
    return Reply(
        404,
        0,
        2,
        b"<html><body>404 - File or directory not found.</body></html>",
        content_type="text/html",
    )


def _denied() -> Reply:
    return Reply(
        401, 2, 5, b"<html><body>401 - Unauthorized</body></html>", content_type="text/html"
    )


def _forbidden() -> Reply:
    return Reply(403, 0, 5, b"<html><body>403 - Forbidden</body></html>", content_type="text/html")


def site_on_port(state: JsonDict, nominal_port: int) -> tuple[str, JsonDict] | None:
    """The started site with an http binding on ``nominal_port`` (IIS serves the first)."""
    services = state.get("services") or {}
    w3svc = services.get("W3SVC") or {}
    if w3svc.get("state") != "Running":
        return None
    sites: dict[str, Any] = (state.get("iis") or {}).get("sites") or {}
    for name, site in sorted(sites.items(), key=lambda item: int(item[1].get("id") or 0)):
        if site.get("state") != "Started":
            continue
        for binding in site.get("bindings") or []:
            if binding.get("protocol") == "http" and binding.get("port") == nominal_port:
                return name, site
    return None


def _vdir(site: JsonDict, name: str) -> JsonDict | None:
    for path, vdir in (site.get("vdirs") or {}).items():
        if path.strip("/").lower() == name.lower():
            return vdir if isinstance(vdir, dict) else None
    return None


def _sharepoint_major(sharepoint: JsonDict) -> int:
    """6 = WSS 2.0 (also when the version is not set: the seed's SharePoint), 12+ = 3.0+."""
    head = str(sharepoint.get("version") or "6").split(".", 1)[0]
    return int(head) if head.isdigit() else 6


def _under(path: str, prefix: str) -> bool:
    prefix = prefix.lower().rstrip("/")
    return bool(prefix) and (path == prefix or path.startswith(prefix + "/"))


def _sharepoint_intercepts(site: JsonDict, path: str) -> bool:
    """WSS 2.0 answers every path it does not exclude (Managing Paths (WSS 2.0): excluded
    paths are left to other applications). WSS 3.0+ has inclusions only and excludes the
    files, folders and vdirs it finds in the site's IIS home directory (SPPrefixType:
    Exclusion obsolete), so it answers only a path an inclusion claims that IIS itself
    does not hold."""
    sharepoint = site.get("sharepoint") or {}
    if not sharepoint.get("present"):
        return False
    lowered = path.lower()
    if _sharepoint_major(sharepoint) < 12:
        excluded = sharepoint.get("excluded_paths") or []
        return not any(_under(lowered, p) for p in excluded)
    first = "/" + lowered.strip("/").split("/", 1)[0]
    held = any(first == p.lower().rstrip("/") for p in site.get("vdirs") or {})
    held = held or lowered in {p.lower() for p in site.get("content") or []}
    if held:
        return False
    for entry in sharepoint.get("managed_paths") or []:
        name, kind = str(entry.get("path") or ""), str(entry.get("kind") or "")
        if kind == "wildcard" and name.rstrip("*").rstrip("/") == "":
            return True  # "/*": every first-level path is a site collection
        if kind in ("explicit", "wildcard") and name.strip("/") and _under(lowered, name):
            return True
    return False


def _override(state: JsonDict, path: str) -> Reply | None:
    overrides: dict[str, Any] = state.get("http_overrides") or {}
    for prefix, spec in overrides.items():
        if path.lower().startswith(prefix.lower()):
            status = int(spec.get("status", 200))
            delay = float(spec.get("delay_ms", 0)) / 1000.0
            body = _CAB if status == 200 else f"<html><body>{status}</body></html>".encode()
            return Reply(status, int(spec.get("substatus", 0)), 0, body, delay)
    return None


def route(state: JsonDict, nominal_port: int, method: str, path: str) -> Reply:
    """The reply of the site bound to ``nominal_port`` (callers checked it exists)."""
    del method  # every path here answers GET, HEAD and POST alike
    found = site_on_port(state, nominal_port)
    if found is None:
        return Reply(503, 0, 0, b"Service Unavailable")
    _, site = found
    overridden = _override(state, path)
    if overridden is not None:
        return overridden
    if _sharepoint_intercepts(site, path):
        return _forbidden() if site.get("anonymous_auth") else _denied()
    lowered = path.lower()
    if lowered.startswith("/selfupdate/"):
        return _selfupdate(site, lowered)
    if lowered.startswith("/clientwebservice/"):
        return _client_web_service(state, site, lowered)
    if not site.get("anonymous_auth"):
        return _denied()
    content = {p.lower() for p in site.get("content") or []}
    if lowered in content:
        return Reply(200, body=_CAB)
    return _not_found()


def _selfupdate(site: JsonDict, lowered: str) -> Reply:
    vdir = _vdir(site, "Selfupdate")
    if vdir is None or not vdir.get("exists"):
        return _not_found()
    if not vdir.get("anonymous_auth") or not site.get("anonymous_auth"):
        return _denied()
    parts = lowered.split("/")
    if lowered == "/selfupdate/wuident.cab":
        return Reply(200, body=_CAB)
    # /selfupdate/AU/x86/<OS>/<LANG>/wuaucomp.cab
    if (
        len(parts) == 7
        and parts[2] == "au"
        and parts[3] in {"x86", "x64", "ia64"}
        and parts[4] in {"xp", "netserver", "w2k"}
        and 2 <= len(parts[5]) <= 5
        and parts[6] in {"wuaucomp.cab", "wuaucomp8.cab"}
    ):
        return Reply(200, body=_CAB)
    return _not_found()


def _client_web_service(state: JsonDict, site: JsonDict, lowered: str) -> Reply:
    vdir = _vdir(site, "ClientWebService")
    if vdir is None or not vdir.get("exists"):
        return _not_found()
    pools = (state.get("iis") or {}).get("app_pools") or {}
    pool = vdir.get("app_pool")
    if pool is not None and (pools.get(pool) != "Started" or _recycling(state, pool)):
        return Reply(
            503, 0, 0, b"<html><body>Service Unavailable</body></html>", content_type="text/html"
        )
    if not vdir.get("anonymous_auth"):
        return _denied()
    if lowered == "/clientwebservice/client.asmx":
        return Reply(200, body=_ASMX, content_type="text/html; charset=utf-8")
    return _not_found()


def _recycling(state: JsonDict, pool: str) -> bool:
    """The pool's worker reaches its private memory limit under client load, so IIS keeps
    recycling it and the WSUS web services answer 503 (0 = no limit; lab-only
    ``working_set_kb`` is the memory the simulated load needs)."""
    settings = ((state.get("iis") or {}).get("app_pool_settings") or {}).get(pool) or {}
    limit = int(settings.get("private_memory_kb") or 0)
    needed = int(settings.get("working_set_kb") or 0)
    return limit > 0 and needed >= limit
