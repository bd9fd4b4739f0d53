"""client.selfupdate_reachable: the client itself can download the self-update files (§7).

The bot repeats the client's requests (``bot_http``), so a failure can be placed: the bot
got 200 where the client did not -> the client's network path; both failed -> the server.

Windows 2000 (NT 5.0, self-update tree ``W2K``) cannot be checked this way: the probe needs
WinRM 2.0 and PowerShell 2.0, and Windows Management Framework 2.0 exists for XP, Server
2003, Vista and Server 2008 only (KB968929 "Windows Management Framework (Windows PowerShell
2.0, WinRM 2.0, and BITS 4.0)", http://smallbusiness.support.microsoft.com/nl-nl/kb/968929;
the WMF availability table of MicrosoftDocs/PowerShell-Docs
reference/docs-conceptual/windows-powershell/wmf-overview.md has no Windows 2000 row). Facts
that say W2K therefore get ``unknown`` with the steps to check it by hand; the W2K tree URL
(``/selfupdate/AU/x86/W2K/<LANG>/wuaucomp.cab``, Cc708554 §7) is still valid for that.
"""

from __future__ import annotations

import dataclasses

from checks._support import describe, find_http, http_cause, missing, outcome, url_path
from checks.facts import ClientFacts, HttpResult, OsInfo
from checks.model import Check, CheckContext, CheckMeta, Finding, FindingBuilder, Severity
from checks.platforms import WINDOWS_2000_BY_HAND, WINDOWS_2000_REASON

META = CheckMeta(
    id="client.selfupdate_reachable",
    role="client",
    title="The client can download the self-update files",
    severity=Severity.CRITICAL,
    seed=("§7",),
    reads=("http[]", "bot_http[]", "os.selfupdate_os"),
    remediation=(
        "On the client, open http://<server>/iuident.cab in Internet Explorer (and, on "
        "XP/2003, http://<server>/selfupdate/AU/x86/<OS>/<LANG>/wuaucomp.cab): each must "
        "offer a download. If the server serves them to others, look at this client's path "
        "to it: proxy settings (netsh winhttp show proxy), firewalls, and name resolution."
    ),
    fix=None,
    description="Checks from the client that iuident.cab and the self-update cab for its "
    "OS download with HTTP 200, and compares with the bot's own requests.",
)

_BUILD = FindingBuilder(META)

_IUIDENT = "/iuident.cab"
_WUIDENT = "/selfupdate/wuident.cab"
_WUAUCOMP = "/wuaucomp.cab"


def _a_wuident_answers(results: list[HttpResult]) -> bool:
    return any(url_path(r.url or "").endswith(_WUIDENT) and r.status == 200 for r in results)


def _is_selfupdate_file(result: HttpResult) -> bool:
    path = url_path(result.url or "")
    if path.endswith((_WUIDENT, _IUIDENT)):
        return True
    return path.startswith("/selfupdate/au/") and path.endswith(_WUAUCOMP)


def _bot_view(client: HttpResult, bot: list[HttpResult]) -> HttpResult | None:
    wanted = (client.url or "").strip().lower()
    return next((r for r in bot if (r.url or "").strip().lower() == wanted), None)


def is_windows_2000(os: OsInfo | None) -> bool:
    """NT 5.0: the facts' self-update OS ``W2K`` or an OS version ``5.0.*``."""
    if os is None:
        return False
    version = (os.version or "").strip()
    return (os.selfupdate_os or "").strip().upper() == "W2K" or version.split(".")[:2] == [
        "5",
        "0",
    ]


def _windows_2000(facts: ClientFacts) -> Finding:
    language = ((facts.os.language if facts.os else None) or "<LANG>").upper()
    finding = _BUILD.unknown(
        WINDOWS_2000_REASON + "; check it by hand.",
        [
            f"os: {(facts.os.caption if facts.os else None) or 'Windows 2000'} "
            f"(version {(facts.os.version if facts.os else None) or '5.0'})",
        ],
    )
    return dataclasses.replace(
        finding,
        next_step=WINDOWS_2000_BY_HAND.replace("<LANG>", language),
    )


def evaluate(facts: ClientFacts, _ctx: CheckContext) -> Finding:
    if is_windows_2000(facts.os):
        return _windows_2000(facts)
    if facts.http is None:
        return missing(_BUILD, "http (the client's HTTP probes)", facts.errors, "http")
    legacy_os = facts.os.selfupdate_os if facts.os else None
    required = [_IUIDENT, _WUAUCOMP if legacy_os else _WUIDENT]
    relevant = [r for r in facts.http if _is_selfupdate_file(r)]
    absent = [suffix for suffix in required if find_http(relevant, suffix) is None]
    evidence = ["client: " + describe(r) for r in relevant]
    evidence += [f"no client request for {suffix} in the facts" for suffix in absent]
    failed = [r for r in relevant if r.status != 200]
    if not legacy_os and not absent and _a_wuident_answers(relevant):
        # a current agent self-updates from one wuident.cab: WSUS 2.0/3.x serve it on the
        # port-80 site, WSUS 2012+ on the WSUS port (MS-WUSP commonPort, docs/catalogue.md
        # D8/D15); iuident.cab on port 80 is the legacy protocol's (Cc708554 §7)
        others = [r for r in failed if not url_path(r.url or "").endswith(_WUIDENT)]
        notes = [f"not needed by this agent: {describe(r)}" for r in others]
        return _BUILD.passed(
            "The client downloads the self-update file (wuident.cab).", evidence + notes
        )
    if not failed:
        if absent:
            return _BUILD.unknown("The client did not request every self-update file.", evidence)
        return _BUILD.passed("The client downloads the self-update files.", evidence)
    bot = facts.bot_http or []
    client_side: list[HttpResult] = []
    server_side: list[HttpResult] = []
    for result in failed:
        seen = _bot_view(result, bot)
        if seen is None:
            evidence.append(f"bot: no request to {result.url}")
        else:
            evidence.append("bot: " + describe(seen))
            (client_side if seen.status == 200 else server_side).append(result)
    evidence += [f"{r.url}: {http_cause(r)}" for r in failed]
    first = failed[0]
    if client_side and not server_side:
        blocked = client_side[0]
        return _BUILD.fail(
            f"The client cannot download {blocked.url} ({outcome(blocked)}) but "
            "the bot can: the problem is the client's network path (proxy, firewall, DNS), "
            "not the server.",
            evidence,
            next_step="Check this client's WinHTTP proxy and bypass list (client.proxy), "
            "firewalls between it and the server, and that the server name resolves from it.",
        )
    if server_side and not client_side:
        return _BUILD.fail(
            f"The server does not serve {server_side[0].url} to the client nor to the bot: "
            "fix the "
            "server first (see server.selfupdate_http).",
            evidence,
            next_step="Run `/wsus check` on the WSUS server and follow server.selfupdate_http "
            "and server.port80_site.",
        )
    if client_side and server_side:
        return _BUILD.fail(
            "Some self-update files fail from the server itself and others only from this "
            "client: fix the server first (server.selfupdate_http), then the client's path.",
            evidence,
        )
    return _BUILD.fail(
        f"The client cannot download every self-update file ({describe(first)}); the bot "
        "did not repeat the request, so client network and server cannot be told apart.",
        evidence,
    )


CHECK = Check(META, evaluate)
