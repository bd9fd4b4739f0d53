"""client.scan_source: a Windows 10/11 client pointed at WSUS scans against WSUS, not
Windows Update (not in the seed).

Sources (Microsoft):

- Dual Scan (Windows 10 1607 and later): with "Specify intranet Microsoft update service
  location" (WUServer) and either Windows Update for Business deferral policy ("Select when
  Feature/Quality Updates are received", registry ``DeferFeatureUpdates`` /
  ``DeferQualityUpdates`` in ``HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\WindowsUpdate``,
  https://learn.microsoft.com/windows/deployment/update/waas-configure-wufb) the client scans
  Windows Update for everything in the "Windows" product family and ignores WSUS for it
  ("Demystifying Dual Scan",
  https://blogs.technet.microsoft.com/wsus/2017/05/05/demystifying-dual-scan/). The policy
  "Do not allow update deferral policies to cause scans against Windows Update"
  (``DisableDualScan`` = 1) turns that off ("Improving Dual Scan on 1607",
  https://blogs.technet.microsoft.com/wsus/2017/08/04/improving-dual-scan-on-1607/).
- Scan source policy (Windows 10 2004 / build 19041 and later, Windows 11): "Specify source
  service for specific classes of Windows Updates", ``SetPolicyDrivenUpdateSourceFor<Class>
  Updates`` = 1 WSUS, 0 Windows Update; written by hand it counts only with
  ``AU\\UseUpdateClassPolicySource`` = 1. "If you configure a WSUS server and deferral
  policies: All of your updates will come from Windows Update unless you specify the scan
  source policy" (https://learn.microsoft.com/windows/deployment/update/wufb-wsus). On
  Windows 10 ``DisableDualScan`` = 1 still keeps Feature/Quality updates on WSUS; on
  Windows 11 (build 22000+) it has no effect (MicrosoftDocs/memdocs,
  memdocs/configmgr/sum/deploy-use/integrate-windows-update-for-business-windows-10.md).
- Build numbers: 1607 = 10.0.14393 (Policy CSP - Update, "Windows 10, version 1607
  [10.0.14393] and later"); 2004 = 19041 (KB5005101 "OS Builds 19041.1202 ...", cited in
  wufb-wsus); Windows 11 = 22000 (memdocs, above). Windows Server 2016/2019/2022 share the
  NT 10.0 builds (14393/17763/20348) and the Windows 10 behaviour (memdocs).
"""

from __future__ import annotations

from checks._support import missing
from checks.facts import ClientFacts, OsInfo, Policy
from checks.model import Check, CheckContext, CheckMeta, Finding, FindingBuilder, Severity

META = CheckMeta(
    id="client.scan_source",
    role="client",
    title="Windows 10/11 scans go to WSUS",
    severity=Severity.MEDIUM,
    seed=(),
    reads=(
        "os.version",
        "os.build",
        "policy.WUServer",
        "policy.UseWUServer",
        "policy.DeferQualityUpdates",
        "policy.DeferFeatureUpdates",
        "policy.DisableDualScan",
        "policy.SetPolicyDrivenUpdateSourceForQualityUpdates",
        "policy.SetPolicyDrivenUpdateSourceForFeatureUpdates",
        "policy.UseUpdateClassPolicySource",
    ),
    remediation=(
        "In the GPO that points this client at WSUS: set 'Select when Quality/Feature Updates "
        "are received' to Not Configured (WSUS approvals already decide when), or, on Windows "
        "10 2004 and later, enable 'Specify source service for specific classes of Windows "
        "Updates' with Windows Server Update Service for every class; on Windows 10 before "
        "2004 enable 'Do not allow update deferral policies to cause scans against Windows "
        "Update'. Then gpupdate /force."
    ),
    fix=None,
    description="Checks that deferral or scan source policies do not send a WSUS client's "
    "Windows update scans to Windows Update (dual scan).",
)

_BUILD = FindingBuilder(META)

#: Windows 10 1607: dual scan debuts
_DUAL_SCAN_FROM = 14393
#: Windows 10 2004: the scan source policy applies
_SCAN_SOURCE_FROM = 19041
#: Windows 11: DisableDualScan has no effect
_WINDOWS_11_FROM = 22000


def _nt_version(os: OsInfo) -> tuple[int, int] | None:
    """(major, build) from ``os.version`` ("10.0.19045") and ``os.build``."""
    parts = (os.version or "").strip().split(".")
    if not parts[0].isdigit():
        return None
    major = int(parts[0])
    build_text = (os.build or "").strip() or (parts[2] if len(parts) > 2 else "")
    if not build_text.isdigit():
        return (major, 0) if major < 10 else None
    return major, int(build_text)


def _evidence(policy: Policy, build: int) -> list[str]:
    lines = [
        f"OS build {build}; WUServer = {policy.WUServer!r}, UseWUServer = {policy.UseWUServer!r}"
    ]
    for name in (
        "DeferQualityUpdates",
        "DeferFeatureUpdates",
        "DisableDualScan",
        "SetPolicyDrivenUpdateSourceForQualityUpdates",
        "SetPolicyDrivenUpdateSourceForFeatureUpdates",
        "UseUpdateClassPolicySource",
        "DoNotConnectToWindowsUpdateInternetLocations",
    ):
        value = getattr(policy, name)
        if value is not None:
            lines.append(f"{name} = {value}")
    return lines


def _scan_source(policy: Policy, build: int, evidence: list[str]) -> Finding | None:
    """The finding when the 2004+ scan source policy decides, else None."""
    classes = {
        "quality": policy.SetPolicyDrivenUpdateSourceForQualityUpdates,
        "feature": policy.SetPolicyDrivenUpdateSourceForFeatureUpdates,
    }
    if all(value is None for value in classes.values()):
        return None
    if build < _SCAN_SOURCE_FROM:
        evidence.append(f"scan source values are ignored before build {_SCAN_SOURCE_FROM} (2004)")
        return None
    if policy.UseUpdateClassPolicySource != 1:
        evidence.append("scan source values are ignored without AU\\UseUpdateClassPolicySource = 1")
        return None
    if any(value is None for value in classes.values()):
        evidence.append("the scan source policy is set for some classes only (unsupported)")
    to_wu = [name for name, value in classes.items() if value == 0]
    if not to_wu:
        return _BUILD.passed("The scan source policy sends Windows updates to WSUS.", evidence)
    if policy.DisableDualScan == 1 and build < _WINDOWS_11_FROM:
        evidence.append(
            "DisableDualScan = 1 keeps Feature/Quality updates on WSUS on Windows 10 (Windows "
            "Update-only content such as Features on Demand then fails)"
        )
        return _BUILD.passed("Scans stay on WSUS (DisableDualScan = 1).", evidence)
    classes_text = " and ".join(to_wu)
    if "quality" in to_wu:
        return _BUILD.fail(
            f"The scan source policy sends {classes_text} updates to Windows Update: this "
            "client ignores WSUS approvals for them.",
            evidence,
        )
    return _BUILD.warn(
        "The scan source policy sends feature updates to Windows Update, not WSUS.", evidence
    )


def evaluate(facts: ClientFacts, _ctx: CheckContext) -> Finding:
    if facts.os is None:
        return missing(_BUILD, "os", facts.errors, "os")
    version = _nt_version(facts.os)
    if version is None:
        return _BUILD.unknown(
            "Could not read the Windows version.",
            [f"os.version = {facts.os.version!r}, os.build = {facts.os.build!r}"],
        )
    major, build = version
    if major < 10:
        return _BUILD.skip(
            "Not Windows 10/11: no dual scan or scan source policies before Windows 10 1607."
        )
    policy = facts.policy
    if policy is None:
        return missing(_BUILD, "policy", facts.errors, "policy")
    if policy.UseWUServer != 1 or not (policy.WUServer or "").strip():
        return _BUILD.skip(
            "The client is not pointed at WSUS (see client.policy_wuserver, "
            "client.policy_use_wuserver)."
        )
    evidence = _evidence(policy, build)
    if build < _DUAL_SCAN_FROM:
        return _BUILD.passed(
            f"Build {build} predates dual scan (Windows 10 1607): scans go to WSUS.", evidence
        )
    decided = _scan_source(policy, build, evidence)
    if decided is not None:
        return decided
    deferrals = [
        name
        for name in ("DeferQualityUpdates", "DeferFeatureUpdates")
        if getattr(policy, name) == 1
    ]
    if not deferrals:
        return _BUILD.passed("Scans go to WSUS (no deferral or scan source policy).", evidence)
    if policy.DisableDualScan == 1:
        if build < _WINDOWS_11_FROM:
            return _BUILD.passed(
                "Deferral policies are set but DisableDualScan = 1 keeps scans on WSUS.",
                evidence,
            )
        evidence.append("DisableDualScan has no effect on Windows 11 (build 22000 and later)")
    return _BUILD.fail(
        f"Dual scan: WUServer together with {' and '.join(deferrals)} sends this client's "
        "Windows update scans to Windows Update, so WSUS approvals are ignored for them.",
        evidence,
    )


CHECK = Check(META, evaluate)
