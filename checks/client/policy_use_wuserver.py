"""client.policy_use_wuserver: AU\\UseWUServer = 1 (§9)."""

from __future__ import annotations

from checks._support import missing, probe_errors
from checks.facts import ClientFacts
from checks.model import Check, CheckContext, CheckMeta, Finding, FindingBuilder, Severity

META = CheckMeta(
    id="client.policy_use_wuserver",
    role="client",
    title="UseWUServer is on",
    severity=Severity.CRITICAL,
    seed=("§9",),
    reads=("policy.UseWUServer",),
    remediation=(
        "Without UseWUServer = 1 under ...\\Policies\\Microsoft\\Windows\\WindowsUpdate\\AU the "
        "agent ignores WUServer and goes to Microsoft Update. Enable the intranet update "
        "service policy in the GPO (it sets the value), or set the DWORD to 1, then restart "
        "wuauserv."
    ),
    fix="client.set_wsus_policy",
    description="Checks that the AU policy value UseWUServer is 1.",
)

_BUILD = FindingBuilder(META)


def evaluate(facts: ClientFacts, _ctx: CheckContext) -> Finding:
    policy = facts.policy
    if policy is None:
        return missing(_BUILD, "policy", facts.errors, "policy")
    value = policy.UseWUServer
    evidence = [f"UseWUServer = {value!r}"]
    if value == 1:
        return _BUILD.passed("UseWUServer is 1.", evidence)
    if value is None:
        errors = probe_errors(facts.errors, "policy")
        if errors:
            return _BUILD.unknown("Could not read UseWUServer.", evidence + errors)
        return _BUILD.fail(
            "UseWUServer is not set, so the agent ignores WUServer.",
            [*evidence, "value absent from the AU policy key"],
        )
    return _BUILD.fail(f"UseWUServer is {value}, so the agent ignores WUServer.", evidence)


CHECK = Check(META, evaluate)
