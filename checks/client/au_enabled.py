"""client.au_enabled: Automatic Updates is not switched off (§9, steps 15-16)."""

from __future__ import annotations

from checks._support import missing, probe_errors
from checks.facts import ClientFacts
from checks.model import Check, CheckContext, CheckMeta, Finding, FindingBuilder, Severity

META = CheckMeta(
    id="client.au_enabled",
    role="client",
    title="Automatic Updates is enabled",
    severity=Severity.HIGH,
    seed=("§9",),
    reads=("policy.NoAutoUpdate", "policy.AUOptions"),
    remediation=(
        "Enable Automatic Updates: remove NoAutoUpdate (or set it to 0) and set AUOptions to "
        "2, 3 or 4 under ...\\Policies\\Microsoft\\Windows\\WindowsUpdate\\AU, preferably by "
        "the 'Configure Automatic Updates' GPO setting, then restart wuauserv."
    ),
    fix="client.set_wsus_policy",
    description="Checks that NoAutoUpdate is not 1 and AUOptions is not 1 (disabled).",
)

_BUILD = FindingBuilder(META)

#: 2 notify, 3 auto download, 4 scheduled install, 5 local admin chooses, 7 notify install
_VALID_AU_OPTIONS = frozenset({2, 3, 4, 5, 7})


def evaluate(facts: ClientFacts, _ctx: CheckContext) -> Finding:
    policy = facts.policy
    if policy is None:
        return missing(_BUILD, "policy", facts.errors, "policy")
    evidence = [f"NoAutoUpdate = {policy.NoAutoUpdate!r}", f"AUOptions = {policy.AUOptions!r}"]
    if policy.NoAutoUpdate == 1:
        return _BUILD.fail("Automatic Updates is disabled by policy (NoAutoUpdate = 1).", evidence)
    if policy.AUOptions == 1:
        return _BUILD.fail("Automatic Updates is disabled (AUOptions = 1).", evidence)
    if policy.AUOptions is not None and policy.AUOptions not in _VALID_AU_OPTIONS:
        return _BUILD.warn(
            f"AUOptions has the unexpected value {policy.AUOptions}; the agent may treat "
            "Automatic Updates as not configured.",
            evidence,
        )
    if policy.NoAutoUpdate is None and policy.AUOptions is None:
        errors = probe_errors(facts.errors, "policy")
        if errors:
            return _BUILD.unknown("Could not read the Automatic Updates policy.", evidence + errors)
        evidence.append("neither value is set by policy: the Control Panel setting applies")
    return _BUILD.passed("Automatic Updates is not disabled by policy.", evidence)


CHECK = Check(META, evaluate)
