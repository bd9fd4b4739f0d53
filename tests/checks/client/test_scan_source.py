"""client.scan_source: dual scan and the scan source policy on Windows 10/11 WSUS clients.

Fixture values are those of published samples:
- a WSUS client's policy export (https://pastebin.com/AsYMU0ac):
    [HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows\\WindowsUpdate]
    "DisableDualScan"=dword:00000001
    "DoNotConnectToWindowsUpdateInternetLocations"=dword:00000001
    "WUServer"="http://DummyWSUS:8530"
    "WUStatusServer"="http://DummyWSUS:8530"
    [HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Microsoft\\Windows\\WindowsUpdate\\AU]
    "UseWUServer"=dword:00000001
- the scan source values Microsoft documents for "Windows updates from Windows Update"
  (MicrosoftDocs/memdocs, integrate-windows-update-for-business-windows-10.md):
    ...\\WindowsUpdate\\AU\\UseUpdateClassPolicySource = 1
    ...\\WindowsUpdate\\SetPolicyDrivenUpdateSourceForQualityUpdates = 0  (1 = WSUS)
- deferral policies as Group Policy writes them (waas-configure-wufb, "Select when Quality
  Updates are received" -> \\Policies\\Microsoft\\Windows\\WindowsUpdate\\DeferQualityUpdates).
"""

from typing import Any

import pytest

from checks.client.scan_source import evaluate
from checks.model import Status
from tests.checks.factories import assert_problem, assert_unknown, client, ctx

WSUS = "http://DummyWSUS:8530"


def windows(build: str, **policy: Any) -> dict[str, Any]:
    return {
        "os.caption": "Microsoft Windows 10 Enterprise",
        "os.version": f"10.0.{build}",
        "os.build": build,
        "os.selfupdate_os": None,
        "policy.WUServer": WSUS,
        "policy.WUStatusServer": WSUS,
        **{f"policy.{name}": value for name, value in policy.items()},
    }


def check(build: str, **policy: Any) -> Any:
    return evaluate(client(**windows(build, **policy)), ctx())


def test_skip_before_windows_10() -> None:
    finding = evaluate(client(), ctx())  # the XP client
    assert finding.status is Status.SKIP
    assert evaluate(client(**{"os.version": "6.1.7601", "os.build": "7601"}), ctx()).status is (
        Status.SKIP
    )


def test_skip_when_not_pointed_at_wsus() -> None:
    assert check("19045", UseWUServer=0).status is Status.SKIP
    assert check("19045", WUServer=None).status is Status.SKIP


def test_pass_with_wsus_and_no_deferral() -> None:
    finding = check("19045")
    assert finding.status is Status.PASS
    assert "OS build 19045" in finding.evidence[0]


def test_the_published_wsus_export_passes() -> None:
    finding = check("19045", DisableDualScan=1, DoNotConnectToWindowsUpdateInternetLocations=1)
    assert finding.status is Status.PASS
    assert "DisableDualScan = 1" in finding.evidence


@pytest.mark.parametrize("build", ["14393", "16299", "18363", "19045", "22631", "26100"])
def test_dual_scan_fails_when_a_deferral_policy_meets_wsus(build: str) -> None:
    finding = check(build, DeferQualityUpdates=1)
    assert_problem(finding, Status.FAIL, None)
    assert "Dual scan" in finding.summary
    assert "DeferQualityUpdates" in finding.summary


@pytest.mark.parametrize("build", ["14393", "17763", "19045"])
def test_disable_dual_scan_keeps_windows_10_on_wsus(build: str) -> None:
    finding = check(build, DeferFeatureUpdates=1, DisableDualScan=1)
    assert finding.status is Status.PASS


def test_disable_dual_scan_has_no_effect_on_windows_11() -> None:
    finding = check("22631", DeferFeatureUpdates=1, DisableDualScan=1)
    assert_problem(finding, Status.FAIL, None)
    assert any("no effect on Windows 11" in line for line in finding.evidence)


def test_before_1607_there_is_no_dual_scan() -> None:
    assert check("10586", DeferQualityUpdates=1).status is Status.PASS


def test_scan_source_quality_to_windows_update_fails() -> None:
    finding = check(
        "19045",
        UseUpdateClassPolicySource=1,
        SetPolicyDrivenUpdateSourceForQualityUpdates=0,
        SetPolicyDrivenUpdateSourceForFeatureUpdates=1,
    )
    assert_problem(finding, Status.FAIL, None)
    assert "quality updates to Windows Update" in finding.summary


def test_scan_source_feature_only_to_windows_update_warns() -> None:
    finding = check(
        "22631",
        UseUpdateClassPolicySource=1,
        SetPolicyDrivenUpdateSourceForQualityUpdates=1,
        SetPolicyDrivenUpdateSourceForFeatureUpdates=0,
    )
    assert_problem(finding, Status.WARN, None)


def test_scan_source_to_wsus_wins_over_deferrals() -> None:
    # wufb-wsus: "WSUS server and the scan source policy: ... the source chosen"
    finding = check(
        "19045",
        DeferQualityUpdates=1,
        UseUpdateClassPolicySource=1,
        SetPolicyDrivenUpdateSourceForQualityUpdates=1,
        SetPolicyDrivenUpdateSourceForFeatureUpdates=1,
    )
    assert finding.status is Status.PASS


def test_scan_source_values_without_the_switch_are_ignored() -> None:
    finding = check("19045", SetPolicyDrivenUpdateSourceForQualityUpdates=0)
    assert finding.status is Status.PASS
    assert any("UseUpdateClassPolicySource = 1" in line for line in finding.evidence)


def test_scan_source_values_before_2004_are_ignored() -> None:
    finding = check(
        "18363", UseUpdateClassPolicySource=1, SetPolicyDrivenUpdateSourceForQualityUpdates=0
    )
    assert finding.status is Status.PASS
    assert any("ignored before build 19041" in line for line in finding.evidence)


def test_windows_10_disable_dual_scan_keeps_a_scan_source_on_wsus() -> None:
    finding = check(
        "19045",
        DisableDualScan=1,
        UseUpdateClassPolicySource=1,
        SetPolicyDrivenUpdateSourceForQualityUpdates=0,
        SetPolicyDrivenUpdateSourceForFeatureUpdates=0,
    )
    assert finding.status is Status.PASS
    assert any("Features on Demand" in line for line in finding.evidence)


def test_unknown_when_the_os_is_unreadable() -> None:
    assert_unknown(evaluate(client(os=None), ctx()), "os")
    assert_unknown(
        evaluate(client(**{"os.version": "ten", "os.build": None}), ctx()), "Windows version"
    )
    assert_unknown(evaluate(client(**windows("19045"), policy=None), ctx()), "policy")
