"""client.legacy_sus_server: WUServer is a WSUS server, not a SUS server (§3)."""

from __future__ import annotations

from checks._support import describe, find_http, http_cause, missing, url_host
from checks.facts import ClientFacts
from checks.model import Check, CheckContext, CheckMeta, Finding, FindingBuilder, Severity

META = CheckMeta(
    id="client.legacy_sus_server",
    role="client",
    title="The client's server is WSUS, not SUS",
    severity=Severity.HIGH,
    seed=("§3",),
    reads=("http[]", "bot_http[]", "policy.WUServer"),
    remediation=(
        "A current agent pointed at a SUS server falls back to legacy mode and shows the "
        "SUS interface. Point WUServer and WUStatusServer at the WSUS server (GPO 'Specify "
        "intranet Microsoft update service location'), then gpupdate /force; the agent "
        "leaves legacy mode by itself once it talks to WSUS."
    ),
    fix="client.set_wsus_policy",
    description="Checks, from the client, that <WUServer>/ClientWebService/client.asmx exists.",
)

_BUILD = FindingBuilder(META)

_SUFFIX = "/clientwebservice/client.asmx"


def evaluate(facts: ClientFacts, _ctx: CheckContext) -> Finding:
    if facts.http is None:
        return missing(_BUILD, "http (the client's HTTP probes)", facts.errors, "http")
    probe = find_http(facts.http, _SUFFIX)
    if probe is None:
        evidence = [f"{len(facts.http)} client requests in the facts, none for {_SUFFIX}"]
        if not (facts.policy and facts.policy.WUServer):
            evidence.append("WUServer is not set, so the probe had no server to ask")
        return _BUILD.unknown("The client did not request ClientWebService.", evidence)
    evidence = [describe(probe)]
    if probe.status is None:
        # the client reached nothing; the bot's own request to the same endpoint still
        # tells a WSUS server (it exists) from a SUS one (404)
        seen_by_bot = find_http(facts.bot_http or [], _SUFFIX)
        if seen_by_bot is not None and seen_by_bot.status not in (None, 404):
            return _BUILD.passed(
                "The client's server is a WSUS server (seen by the bot; the client itself "
                "could not reach it, see client.selfupdate_reachable).",
                [*evidence, "bot: " + describe(seen_by_bot)],
            )
        return _BUILD.unknown(
            "The client could not reach its server at all, so SUS and WSUS cannot be told "
            "apart (see client.selfupdate_reachable).",
            [*evidence, http_cause(probe)],
        )
    if probe.status != 404:
        note = (
            "ClientWebService exists"
            if probe.status == 200
            else f"ClientWebService answered {probe.status} (it exists; the error itself is "
            "server.clientwebservice_http's business)"
        )
        return _BUILD.passed("The client's server is a WSUS server.", [*evidence, note])
    host = url_host(probe.url or "")
    others = [
        r
        for r in facts.http
        if r is not probe and r.status is not None and host and url_host(r.url or "") == host
    ]
    if not others:
        return _BUILD.unknown(
            "ClientWebService is missing (404), but no other request to that host got an "
            "answer, so a SUS server cannot be told from a broken one.",
            evidence,
        )
    return _BUILD.fail(
        f"The client points at {host}, which answers HTTP but has no ClientWebService: a "
        "legacy SUS server.",
        evidence + [describe(r) for r in others],
    )


CHECK = Check(META, evaluate)
