"""client.au_state: AUState holds a normal value (§9, step 17)."""

from __future__ import annotations

from checks._support import missing
from checks.facts import ClientFacts
from checks.model import Check, CheckContext, CheckMeta, Finding, FindingBuilder, Severity

META = CheckMeta(
    id="client.au_state",
    role="client",
    title="Automatic Updates state is normal",
    severity=Severity.MEDIUM,
    seed=("§9",),
    reads=("au.AUState",),
    remediation=(
        "Reset the Automatic Updates state: set AUState to 2 (detection pending) under "
        "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\WindowsUpdate\\Auto Update, "
        "delete LastWaitTimeout and DetectionStartTime there, and restart wuauserv."
    ),
    fix="client.reset_au_state",
    description="Checks that AUState is a normal working value, not 7 (disabled).",
)

_BUILD = FindingBuilder(META)

_MEANING = {
    0: "initial, not yet configured",
    1: "waiting for the user to configure Automatic Updates",
    2: "detection pending",
    3: "download pending",
    4: "downloading",
    5: "install pending",
    6: "install complete",
    7: "disabled",
    8: "reboot pending",
}
_NORMAL = frozenset({2, 3, 4, 5, 6, 8})


def evaluate(facts: ClientFacts, _ctx: CheckContext) -> Finding:
    value = facts.au.AUState if facts.au else None
    if value is None:
        return missing(_BUILD, "au.AUState", facts.errors, "au")
    meaning = _MEANING.get(value, "not a documented value")
    evidence = [f"AUState = {value} ({meaning})"]
    if value in _NORMAL:
        return _BUILD.passed(f"AUState is {value} ({meaning}).", evidence)
    if value == 7:
        return _BUILD.fail("Automatic Updates is in the disabled state (AUState = 7).", evidence)
    return _BUILD.warn(f"AUState is {value} ({meaning}), not a normal working state.", evidence)


CHECK = Check(META, evaluate)
