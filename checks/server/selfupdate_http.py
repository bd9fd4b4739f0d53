"""server.selfupdate_http: the bot can download the self-update files (seed §4, §7)."""

from __future__ import annotations

from checks._support import describe, find_http, http_cause, missing
from checks.facts import HttpResult, ServerFacts
from checks.model import Check, CheckContext, CheckMeta, Finding, FindingBuilder, Severity

META = CheckMeta(
    id="server.selfupdate_http",
    role="server",
    title="The self-update files download over http port 80",
    severity=Severity.CRITICAL,
    seed=("§4", "§7"),
    reads=("http[]",),
    remediation=(
        "Open http://<server>/selfupdate/wuident.cab and http://<server>/iuident.cab in a "
        "browser on the server and fix what blocks them: 401/403 means anonymous access is "
        "off or SharePoint intercepts the path, 404 means the Selfupdate tree is missing "
        "(run InstallSelfupdateOnPort80.vbs), 503 means the WSUS application pool is down."
    ),
    fix=None,
    description="Checks that /selfupdate/wuident.cab and /iuident.cab answer 200 to the bot.",
)

_BUILD = FindingBuilder(META)

_EXPECTED = ("/selfupdate/wuident.cab", "/iuident.cab")


def _fix_for(result: HttpResult) -> str | None:
    if result.status in (401, 403):
        return "server.enable_anonymous_auth"
    if result.status == 404:
        return "server.install_selfupdate_port80"
    if result.status == 503:
        return "server.start_services"
    return None


def evaluate(facts: ServerFacts, _ctx: CheckContext) -> Finding:
    if facts.http is None:
        return missing(_BUILD, "http (the bot's HTTP probes)", facts.errors, "http")
    found = {suffix: find_http(facts.http, suffix) for suffix in _EXPECTED}
    failed = [r for r in found.values() if r is not None and r.status != 200]
    absent = [suffix for suffix, r in found.items() if r is None]
    evidence = [describe(r) for r in found.values() if r is not None]
    evidence += [f"no probe of {suffix} in the facts" for suffix in absent]
    if failed:
        first = failed[0]
        causes = [f"{r.url}: {http_cause(r)}" for r in failed]
        fix = _fix_for(first)
        return _BUILD.fail(
            f"The self-update files do not download from the server ({describe(first)}).",
            evidence + causes,
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
    return _BUILD.passed("Both self-update files download with HTTP 200.", evidence)


CHECK = Check(META, evaluate)
