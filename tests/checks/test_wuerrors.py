"""checks.wuerrors: the code table and the finder, on spellings copied from public samples
(tests/fixtures/windowsupdate/README.md and the module docstring name them)."""

from __future__ import annotations

import pytest

from checks import wuerrors
from checks.wuerrors import describe, failing_codes, find_codes, format_code, lookup


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        # classic WindowsUpdate.log (cloudbase/windows-imaging-tools#53)
        ("WARNING: Send failed with hr = 80072ee2.", [0x80072EE2]),
        (
            "WARNING: WinHttp: SendRequestUsingProxy failed for "
            "<http://mywsusurl//selfupdate/wuident.cab>. error 0x80072ee2",
            [0x80072EE2],
        ),
        # LegacyUpdate/LegacyUpdate#8
        ("  * WARNING: Failed to filter search results, error = 0x8024000B", [0x8024000B]),
        # proxb/PoshPAIG#18
        ("  - WARNING: Exit code = 0x80240024", [0x80240024]),
        # Get-WindowsUpdateLog output
        ("Misc LoadHistoryEventFromRegistry completed, hr = 8024000C", [0x8024000C]),
        ("ProtocolTalker  *FAILED* [8024000C] Method failed", [0x8024000C]),
        # event 25's message
        ("Windows Update failed to check for updates with error 0x8024402C.", [0x8024402C]),
        ("hr=8024402C", [0x8024402C]),
        ("error 80244019 while syncing", [0x80244019]),
        # bklockwood/PSWU#47: a signed decimal HRESULT
        ("Installer error -2145124318, resultcode 4", [0x80240022]),
        # two codes, each once, in order
        ("0x80244019 then 0x8024402C then 0x80244019", [0x80244019, 0x8024402C]),
    ],
)
def test_find_codes_in_real_spellings(text: str, codes: list[int]) -> None:
    assert find_codes(text) == codes


@pytest.mark.parametrize(
    "text",
    [
        "{3DA21691-E39D-4DA6-8A4B-B43877BCB1B7}",  # GUIDs are not codes
        "[CallId = {9A2B7C11-0E3D-4F4C-9E0B-2E6C5F7A8B90}]",
        "Exit code = 0x240001",  # a success code (WU_S_SERVICE_STOP)
        "Client version: Core: 7.6.7600.256  Aux: 7.3.7600.16385",
        "2016-09-08\t10:48:43:109\t 848\t604\tMisc",
        "0x8024402C1",  # nine hex digits
    ],
)
def test_no_false_codes(text: str) -> None:
    assert find_codes(text) == []


def test_benign_results_are_not_failing() -> None:
    assert failing_codes("hr = 8024000C; Exit code = 0x80240024; error 0x80244019") == [0x80244019]


def test_describe_names_known_and_unknown_codes() -> None:
    assert describe(0x80244019).startswith(
        "0x80244019 (WU_E_PT_HTTP_STATUS_NOT_FOUND: the server answered HTTP 404"
    )
    assert describe(0x8024ABCD) == "0x8024ABCD (not in wsusbot's table of Windows Update codes)"
    assert format_code(0x8024402C) == "0x8024402C"


def test_table_matches_microsoft_names() -> None:
    # spot checks against the Microsoft pages cited in SOURCES
    expected = {
        0x80244017: "WU_E_PT_HTTP_STATUS_DENIED",
        0x80244018: "WU_E_PT_HTTP_STATUS_FORBIDDEN",
        0x8024401B: "WU_E_PT_HTTP_STATUS_PROXY_AUTH_REQ",
        0x80244022: "WU_E_PT_HTTP_STATUS_SERVICE_UNAVAIL",
        0x8024402C: "WU_E_PT_WINHTTP_NAME_NOT_RESOLVED",
        0x8024400E: "WU_E_PT_SOAP_SERVER",
        0x8024000B: "WU_E_CALL_CANCELLED",
        0x80072EE2: "ERROR_WINHTTP_TIMEOUT",
        0x80072EE7: "ERROR_WINHTTP_NAME_NOT_RESOLVED",
        0x80070057: "E_INVALIDARG",
        0x80190194: "BG_E_HTTP_ERROR_404",
    }
    for code, name in expected.items():
        entry = lookup(code)
        assert entry is not None
        assert entry.name == name


def test_table_is_consistent() -> None:
    assert 30 <= len(wuerrors.ERRORS) <= 60
    for entry in wuerrors.ERRORS.values():
        assert entry.source in wuerrors.SOURCES
        assert entry.meaning
        assert entry.next_step
        assert entry.code & 0x80000000
    assert not wuerrors.is_blocking(0x8024000C)
    assert not wuerrors.is_failure(0x8024000C)
    assert wuerrors.is_blocking(0x8024402C)
    assert not wuerrors.is_blocking(0x8024ABCD)
    assert wuerrors.is_failure(0x8024ABCD)


def test_decisive_is_most_frequent_then_most_recent() -> None:
    assert wuerrors.decisive([]) is None
    assert wuerrors.decisive([(1, 0xA), (2, 0xB), (3, 0xB)]) == 0xB
    assert wuerrors.decisive([(1, 0xA), (2, 0xB)]) == 0xB
    assert wuerrors.decisive([(5, 0xA), (2, 0xB)]) == 0xA
