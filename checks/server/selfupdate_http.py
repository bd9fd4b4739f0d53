"""server.selfupdate_http: the bot can download the self-update files (seed §4, §7).

Which files a server must serve depends on its WSUS generation (checks/server/_support.py):
WSUS 2.0 / 3.x (and a SUS box) serve ``/selfupdate/wuident.cab`` and ``/iuident.cab`` on
the port-80 site (Cc708554 §4 and §7; dd939801 tests http://<server>/selfupdate/wuident.cab);
the WSUS role of Windows Server 2012+ serves the self-update directory on the WSUS port
([MS-WUSP] 2.1, https://msdn.microsoft.com/en-us/library/cc251951.aspx), so there only
``<wsus_url>/selfupdate/wuident.cab`` is required. The bot probes both
(handlers/http.py ``server_probe_urls``); a request is "on the WSUS port" when it went to
the same host and port as the bot's ``/ClientWebService/client.asmx`` probe.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from checks._support import describe, http_cause, missing, url_path
from checks.facts import HttpResult, ServerFacts
from checks.model import Check, CheckContext, CheckMeta, Finding, FindingBuilder, Severity
from checks.server._support import WsusGeneration, describe_version, wsus_generation

META = CheckMeta(
    id="server.selfupdate_http",
    role="server",
    title="The self-update files download from the server",
    severity=Severity.CRITICAL,
    seed=("§4", "§7"),
    reads=("http[]", "wsus.version"),
    remediation=(
        "Open http://<server>/selfupdate/wuident.cab and http://<server>/iuident.cab (WSUS "
        "2012+: http://<server>:<WSUS port>/selfupdate/wuident.cab) in a browser on the "
        "server and fix what blocks them: 401/403 means anonymous access is off or "
        "SharePoint intercepts the path, 404 means the Selfupdate tree is missing (run "
        "InstallSelfupdateOnPort80.vbs), 503 means the WSUS application pool is down."
    ),
    fix=None,
    description="Checks that the self-update files this WSUS version serves "
    "(/selfupdate/wuident.cab, /iuident.cab) answer 200 to the bot.",
)

_BUILD = FindingBuilder(META)

_WUIDENT = "/selfupdate/wuident.cab"
_IUIDENT = "/iuident.cab"
_ASMX = "/clientwebservice/client.asmx"


@dataclass(frozen=True)
class _Probes:
    wuident80: HttpResult | None
    iuident80: HttpResult | None
    wuident_wsus: HttpResult | None


def _netloc(url: str | None) -> str | None:
    try:
        return urlsplit((url or "").strip()).netloc.lower() or None
    except ValueError:
        return None


def _sort(results: list[HttpResult]) -> _Probes:
    wsus = next((_netloc(r.url) for r in results if url_path(r.url or "").endswith(_ASMX)), None)
    wuident80 = iuident80 = wuident_wsus = None
    for result in results:
        path = url_path(result.url or "")
        on_wsus = wsus is not None and _netloc(result.url) == wsus
        if path.endswith(_WUIDENT):
            if on_wsus and wuident_wsus is None:
                wuident_wsus = result
            if (not on_wsus or wsus is None) and wuident80 is None:
                wuident80 = result
            # WSUS itself on port 80: the one URL is both
            if on_wsus and wuident80 is None and _port80(result.url):
                wuident80 = result
        elif path.endswith(_IUIDENT) and iuident80 is None:
            iuident80 = result
    return _Probes(wuident80, iuident80, wuident_wsus)


def _port80(url: str | None) -> bool:
    try:
        parts = urlsplit((url or "").strip())
        return parts.scheme == "http" and parts.port in (None, 80)
    except ValueError:
        return False


def _fix_for(result: HttpResult, generation: WsusGeneration | None) -> str | None:
    if result.status in (401, 403):
        return "server.enable_anonymous_auth"
    if result.status == 404 and generation is not WsusGeneration.ROLE:
        return "server.install_selfupdate_port80"
    if result.status == 503:
        return "server.start_services"
    return None


def _verdict(
    required: list[tuple[str, HttpResult | None]],
    generation: WsusGeneration | None,
    evidence: list[str],
) -> Finding:
    failed = [r for _, r in required if r is not None and r.status != 200]
    absent = [name for name, r in required if r is None]
    evidence = evidence + [f"no probe of {name} in the facts" for name in absent]
    if failed:
        first = failed[0]
        fix = _fix_for(first, generation)
        return _BUILD.fail(
            f"The self-update files do not download from the server ({describe(first)}).",
            evidence + [f"{r.url}: {http_cause(r)}" for r in failed],
            next_step=(
                None
                if fix
                else "Look at the cause in the evidence; see also server.port80_site and "
                "server.services."
            ),
            fix=fix or False,
        )
    if absent:
        return _BUILD.unknown("The bot did not probe every self-update URL.", evidence)
    names = " and ".join(name for name, _ in required)
    return _BUILD.passed(f"{names} download with HTTP 200.", evidence)


def evaluate(facts: ServerFacts, _ctx: CheckContext) -> Finding:
    if facts.http is None:
        return missing(_BUILD, "http (the bot's HTTP probes)", facts.errors, "http")
    probes = _sort(facts.http)
    generation = wsus_generation(facts.wsus)
    version = describe_version(facts.wsus)
    seen = {id(r): r for r in (probes.wuident80, probes.iuident80, probes.wuident_wsus) if r}
    evidence = [describe(r) for r in seen.values()] + [version]
    legacy = [
        (f"port-80 {_WUIDENT}", probes.wuident80),
        (f"port-80 {_IUIDENT}", probes.iuident80),
    ]
    if generation is WsusGeneration.ROLE:
        return _verdict([(f"WSUS-port {_WUIDENT}", probes.wuident_wsus)], generation, evidence)
    installed = facts.wsus.installed if facts.wsus else None
    if generation is None and installed is not False:
        finding = _verdict(legacy, generation, evidence)
        modern = probes.wuident_wsus
        if finding.status.value != "pass" and modern is not None and modern.status == 200:
            return _BUILD.unknown(
                "The port-80 self-update files do not download, but the WSUS port serves "
                f"{_WUIDENT}; whether the port-80 tree is needed depends on the WSUS "
                "version, which could not be read.",
                list(finding.evidence),
            )
        return finding
    return _verdict(legacy, generation, evidence)


CHECK = Check(META, evaluate)
