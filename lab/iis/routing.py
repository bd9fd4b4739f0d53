"""What an IIS site answers for a path, derived from the server's state.

No Selfupdate vdir -> 404 on /selfupdate/*; anonymous auth off -> 401; SharePoint
intercepting a path it does not exclude -> 401 (site demands login) or 403; a SUS server
(no ClientWebService vdir) -> 404; WsusPool stopped -> 503 on the WSUS web services.
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


def _sharepoint_intercepts(site: JsonDict, path: str) -> bool:
    sharepoint = site.get("sharepoint") or {}
    if not sharepoint.get("present"):
        return False
    excluded = [p.lower().rstrip("/") for p in sharepoint.get("excluded_paths") or []]
    lowered = path.lower()
    return not any(lowered == p or lowered.startswith(p + "/") for p in excluded if p)


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
    if pool is not None and pools.get(pool) != "Started":
        return Reply(
            503, 0, 0, b"<html><body>Service Unavailable</body></html>", content_type="text/html"
        )
    if not vdir.get("anonymous_auth"):
        return _denied()
    if lowered == "/clientwebservice/client.asmx":
        return Reply(200, body=_ASMX, content_type="text/html; charset=utf-8")
    return _not_found()
