"""client.services: wuauserv runs and is not disabled; BITS is not disabled (§9, 20-21)."""

from __future__ import annotations

from checks._support import missing, sentence
from checks.facts import ClientFacts
from checks.model import Check, CheckContext, CheckMeta, Finding, FindingBuilder, Severity

META = CheckMeta(
    id="client.services",
    role="client",
    title="Automatic Updates and BITS services are usable",
    severity=Severity.CRITICAL,
    seed=("§9",),
    reads=("services.wuauserv", "services.BITS"),
    remediation=(
        "Set the Automatic Updates service (wuauserv) to Automatic and start it "
        "(net start wuauserv). BITS may stay stopped (it starts on demand) but must not be "
        "Disabled: sc config BITS start= demand."
    ),
    fix="client.restart_wuauserv",
    description="Checks that wuauserv is running and not disabled, and BITS is not disabled.",
)

_BUILD = FindingBuilder(META)


def _disabled(start_mode: str | None) -> bool:
    return (start_mode or "").strip().lower() == "disabled"


def evaluate(facts: ClientFacts, _ctx: CheckContext) -> Finding:
    services = facts.services
    if services is None:
        return missing(_BUILD, "services", facts.errors, "services")
    wuauserv, bits = services.wuauserv, services.BITS
    if wuauserv is None or wuauserv.state is None:
        return missing(_BUILD, "services.wuauserv.state", facts.errors, "services")
    evidence = [f"wuauserv: {wuauserv.state} (start mode {wuauserv.start_mode or 'unknown'})"]
    if bits is not None:
        mode = bits.start_mode or "unknown"
        evidence.append(f"BITS: {bits.state or 'unknown'} (start mode {mode})")
    problems = []
    if wuauserv.state.strip().lower() != "running":
        problems.append(f"wuauserv is {wuauserv.state.lower()}")
    if _disabled(wuauserv.start_mode):
        problems.append("wuauserv is disabled")
    if problems:
        return _BUILD.fail(sentence(problems), evidence)
    if bits is None or bits.start_mode is None:
        return missing(_BUILD, "services.BITS.start_mode", facts.errors, "services")
    if _disabled(bits.start_mode):
        return _BUILD.fail(
            "BITS is disabled, so the agent cannot download its self-update or updates.",
            evidence,
            next_step="Set BITS to Manual (sc config BITS start= demand); restarting "
            "wuauserv does not change it.",
            fix=False,
        )
    return _BUILD.passed("wuauserv is running and BITS is not disabled.", evidence)


CHECK = Check(META, evaluate)
