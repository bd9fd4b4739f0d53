"""client.agent_version: the Automatic Updates agent is WSUS-compatible and current (§1, §2)."""

from __future__ import annotations

from checks._support import missing
from checks.facts import ClientFacts
from checks.model import Check, CheckContext, CheckMeta, Finding, FindingBuilder, Severity
from checks.versions import VersionError, is_below

META = CheckMeta(
    id="client.agent_version",
    role="client",
    title="The update agent is WSUS-compatible and self-updated",
    severity=Severity.HIGH,
    seed=("§1", "§2"),
    reads=("agent.wuaueng_version",),
    remediation=(
        "An old agent updates itself from the WSUS server's Selfupdate tree once it detects "
        "against WSUS. Make sure the client points at the WSUS server, then reset the "
        "Automatic Updates state (AUState = 2, delete LastWaitTimeout and DetectionStartTime, "
        "restart wuauserv) and re-check after about 10 minutes."
    ),
    fix="client.reset_au_state",
    description="Checks the wuaueng.dll version against the SUS-era boundary and the "
    "minimum client version.",
)

_BUILD = FindingBuilder(META)


def evaluate(facts: ClientFacts, ctx: CheckContext) -> Finding:
    version = facts.agent.wuaueng_version if facts.agent else None
    if version is None:
        return missing(_BUILD, "agent.wuaueng_version", facts.errors, "agent")
    limits = ctx.thresholds
    evidence = [
        f"wuaueng.dll version {version}",
        f"SUS-era below {limits.sus_era_below_version}; minimum {limits.min_client_version}",
    ]
    try:
        sus_era = is_below(version, limits.sus_era_below_version)
        outdated = is_below(version, limits.min_client_version)
    except VersionError as exc:
        return _BUILD.unknown(
            "The agent version could not be read as a version number.", [str(exc)]
        )
    if sus_era:
        return _BUILD.fail(
            f"The agent {version} is a SUS-era client: it cannot use WSUS until it "
            "self-updates from the WSUS server.",
            evidence,
        )
    if outdated:
        return _BUILD.warn(
            f"The agent {version} is older than {limits.min_client_version}: it has not "
            "self-updated.",
            evidence,
        )
    return _BUILD.passed(f"The agent {version} is current.", evidence)


CHECK = Check(META, evaluate)
