"""client.au_enabled: Automatic Updates is not switched off (§9, steps 14-16).

Automatic Updates is turned off in two places, and the check reads both:

- by policy, ``HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\WindowsUpdate\\AU``:
  ``NoAutoUpdate`` = 1 disables it; ``AUOptions`` 2-5 are the documented policy values
  (dd939844; waas-wu-settings, https://learn.microsoft.com/windows/deployment/update/waas-wu-settings),
  1 = disabled only in the older KB copy (wiki.robotz.com copy of "Configuring Automatic
  Updates by editing the registry"), 7 = "Auto Download, Notify to install, Notify to
  Restart" on Windows Server 2016 and later (the ADMX values quoted in
  https://github.com/MicrosoftDocs/windows-itpro-docs/issues/11246);
- in Control Panel, ``AUOptions`` under ``HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\
  WindowsUpdate\\Auto Update`` (facts ``au.AUOptions``): 1 = disabled, 2-4 = notify /
  download / scheduled (smallvoid.com, http://smallvoid.com/article/winnt-automatic-updates-config.html,
  "1 = Disables AU (Same as disabling it through the standard controls)"; the WUA API's
  AutomaticUpdatesNotificationLevel has the same numbers, 0 = not configured, 1 = disabled,
  https://learn.microsoft.com/en-us/windows/desktop/api/wuapi/ne-wuapi-automaticupdatesnotificationlevel).

The policy rules when it is set: "When you configure Automatic Updates directly by using the
policy registry keys, the policy overrides the preferences that are set by the local
administrative user" (waas-wu-settings, above).
"""

from __future__ import annotations

from checks._support import missing, probe_errors
from checks.facts import AuState, ClientFacts, Policy
from checks.model import Check, CheckContext, CheckMeta, Finding, FindingBuilder, Severity

META = CheckMeta(
    id="client.au_enabled",
    role="client",
    title="Automatic Updates is enabled",
    severity=Severity.HIGH,
    seed=("§9",),
    reads=("policy.NoAutoUpdate", "policy.AUOptions", "au.AUOptions"),
    remediation=(
        "Enable Automatic Updates: by policy, remove NoAutoUpdate = 1 and set AUOptions to "
        "2, 3 or 4 under ...\\Policies\\Microsoft\\Windows\\WindowsUpdate\\AU (preferably in "
        "the 'Configure Automatic Updates' GPO setting); without such a policy, turn it on "
        "in Control Panel > Automatic Updates (AUOptions under ...\\CurrentVersion\\"
        "WindowsUpdate\\Auto Update), then restart wuauserv."
    ),
    fix="client.enable_automatic_updates",
    description="Checks the policy (NoAutoUpdate, AUOptions) and, where no policy rules, the "
    "Control Panel AUOptions; neither may say disabled.",
)

_BUILD = FindingBuilder(META)

_POLICY_KEY = "...\\Policies\\Microsoft\\Windows\\WindowsUpdate\\AU"
_CONTROL_PANEL_KEY = "...\\CurrentVersion\\WindowsUpdate\\Auto Update"

#: policy AUOptions: 2 notify, 3 auto download, 4 scheduled install, 5 local admin chooses
#: (dd939844, waas-wu-settings); 7 notify install and restart (Server 2016+, ADMX)
_VALID_POLICY_AU_OPTIONS = frozenset({2, 3, 4, 5, 7})
#: Control Panel AUOptions: 0 not configured (WUA API), 2 notify, 3 auto download,
#: 4 scheduled install (smallvoid.com; AutomaticUpdatesNotificationLevel)
_VALID_CONTROL_PANEL_AU_OPTIONS = frozenset({0, 2, 3, 4})


def _evidence(policy: Policy | None, au: AuState | None) -> list[str]:
    lines = []
    if policy is not None:
        lines.append(f"policy {_POLICY_KEY}: NoAutoUpdate = {policy.NoAutoUpdate!r}")
        lines.append(f"policy {_POLICY_KEY}: AUOptions = {policy.AUOptions!r}")
    shown = au.AUOptions if au is not None else None
    lines.append(f"Control Panel {_CONTROL_PANEL_KEY}: AUOptions = {shown!r}")
    return lines


def _by_policy(policy: Policy, au: AuState | None, evidence: list[str]) -> Finding | None:
    """The finding when the policy decides; None when it leaves it to Control Panel."""
    if policy.NoAutoUpdate == 1:
        return _BUILD.fail("Automatic Updates is disabled by policy (NoAutoUpdate = 1).", evidence)
    options = policy.AUOptions
    if options is None:
        return None
    overridden = au.AUOptions if au is not None else None
    if overridden is not None and overridden != options:
        evidence.append(
            f"the policy overrides the Control Panel value {overridden} (waas-wu-settings: "
            "policy keys override the local administrator's preferences)"
        )
    if options == 1:
        return _BUILD.fail("Automatic Updates is disabled by policy (AUOptions = 1).", evidence)
    if options not in _VALID_POLICY_AU_OPTIONS:
        return _BUILD.warn(
            f"The policy AUOptions has the undocumented value {options}; the agent may treat "
            "Automatic Updates as not configured.",
            evidence,
        )
    return _BUILD.passed(
        f"Automatic Updates is configured by policy (AUOptions = {options}).", evidence
    )


def evaluate(facts: ClientFacts, _ctx: CheckContext) -> Finding:
    policy, au = facts.policy, facts.au
    if policy is None and au is None:
        return missing(_BUILD, "policy and au", facts.errors, "policy")
    evidence = _evidence(policy, au)
    if policy is not None:
        decided = _by_policy(policy, au, evidence)
        if decided is not None:
            return decided
    evidence.append("no AUOptions policy: the Control Panel setting applies")
    control_panel = au.AUOptions if au is not None else None
    if control_panel == 1:
        return _BUILD.fail(
            "Automatic Updates is turned off in Control Panel (AUOptions = 1 under "
            "...\\WindowsUpdate\\Auto Update) and no policy overrides it.",
            evidence,
        )
    if control_panel is not None and control_panel not in _VALID_CONTROL_PANEL_AU_OPTIONS:
        return _BUILD.warn(
            f"The Control Panel AUOptions has the undocumented value {control_panel}.",
            evidence,
        )
    if control_panel is None:
        errors = probe_errors(facts.errors, "au") + probe_errors(facts.errors, "policy")
        if errors or policy is None or au is None:
            return _BUILD.unknown(
                "Could not read whether Automatic Updates is turned off.", evidence + errors
            )
        evidence.append("AUOptions is set neither by policy nor in Control Panel")
    return _BUILD.passed("Automatic Updates is not turned off.", evidence)


CHECK = Check(META, evaluate)
