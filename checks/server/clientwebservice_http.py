"""server.clientwebservice_http: ClientWebService answers, so this is WSUS, not SUS (§3)."""

from __future__ import annotations

from checks._support import describe, find_http, http_cause, missing
from checks.facts import ServerFacts
from checks.model import Check, CheckContext, CheckMeta, Finding, FindingBuilder, Severity

META = CheckMeta(
    id="server.clientwebservice_http",
    role="server",
    title="ClientWebService answers on the WSUS port",
    severity=Severity.HIGH,
    seed=("§3",),
    reads=("http[]",),
    remediation=(
        "Browse http://<server>:<port>/ClientWebService/client.asmx on the server. A 404 "
        "means this is not a WSUS server (a SUS server, or the vdir was removed: repair the "
        "WSUS installation); 401/403 means anonymous access is off or SharePoint is in the "
        "way; 500 is an ASP.NET error (see the event log); 503 means WsusPool is stopped."
    ),
    fix=None,
    description="Checks that /ClientWebService/client.asmx answers HTTP 200 to the bot.",
)

_BUILD = FindingBuilder(META)

_SUFFIX = "/clientwebservice/client.asmx"


def evaluate(facts: ServerFacts, _ctx: CheckContext) -> Finding:
    if facts.http is None:
        return missing(_BUILD, "http (the bot's HTTP probes)", facts.errors, "http")
    result = find_http(facts.http, _SUFFIX)
    if result is None:
        return _BUILD.unknown(
            "The bot did not probe ClientWebService/client.asmx.",
            [f"{len(facts.http)} HTTP probes in the facts, none for {_SUFFIX}"],
        )
    if result.status == 200:
        return _BUILD.passed("ClientWebService answers with HTTP 200.", [describe(result)])
    if result.status == 404:
        summary = "ClientWebService is missing (404): this does not look like a WSUS server."
    elif result.status == 503:
        summary = "ClientWebService is unavailable (503): the WsusPool application pool is down."
    else:
        summary = f"ClientWebService does not answer normally ({describe(result)})."
    return _BUILD.fail(summary, [describe(result), http_cause(result)])


CHECK = Check(META, evaluate)
