"""Windows Update error codes: symbolic name, meaning and next step, and a finder for the
ways logs and event messages spell them. Pure data and functions, no I/O.

Sources (cited per entry by key):

- ``ref``: Windows Update error codes by component —
  https://learn.microsoft.com/en-us/windows/deployment/update/windows-update-error-reference
  (seen as MicrosoftDocs/windows-itpro-docs,
  windows/deployment/update/windows-update-error-reference.md)
- ``net``: WUA Networking Error Codes —
  https://learn.microsoft.com/en-us/windows/win32/wua_sdk/wua-networking-error-codes-
- ``common``: Windows Update common errors and mitigation —
  https://learn.microsoft.com/en-us/troubleshoot/windows-client/installing-updates-features-roles/common-windows-update-errors
  (seen as MicrosoftDocs/SupportArticles-docs .../common-windows-update-errors.md)
- ``winhttp``: WinHTTP error messages (12002, 12007, 12029, 12030, 12175) —
  https://learn.microsoft.com/windows/win32/winhttp/error-messages; the HRESULT form
  0x80072EE2 = HRESULT_FROM_WIN32(12002) etc. as tabulated by HCL BigFix (third-party)
  https://help.hcl-software.com/bigfix/11.0/mcm/c_winhttp_errors.html
- ``com``: COM Error Codes (Generic) —
  https://learn.microsoft.com/en-us/windows/win32/com/com-error-codes-1
- ``bits``: BG_E_HTTP_ERROR_404 = -2145844844 = 0x80190194 (windows-rs constant page) —
  https://microsoft.github.io/windows-docs-rs/doc/windows/Win32/Networking/BackgroundIntelligentTransferService/constant.BG_E_HTTP_ERROR_404.html

Spellings the finder accepts, each seen in a public sample:

- ``0x80244019`` / ``error 0x80072ee2`` / ``error = 0x8024000B`` / ``Exit code = 0x80240024``
  (classic WindowsUpdate.log: https://github.com/cloudbase/windows-imaging-tools/issues/53,
  https://github.com/LegacyUpdate/LegacyUpdate/issues/8,
  https://github.com/proxb/PoshPAIG/issues/18)
- ``hr = 80072ee2`` (no ``0x``, same cloudbase sample) and ``hr = 8024000C`` in
  Get-WindowsUpdateLog output (https://oshibok.top/8024401c-oshibka-obnovleniya-windows-server-2016/)
- ``[8024000C]`` after ``*FAILED*`` in Get-WindowsUpdateLog output (docs/catalogue.md S25;
  https://pastebin.com/LhaYUNR3)
- ``with error 0x8024402C`` in event 25's message ("Windows Update failed to check for
  updates with error errorCode.", provider manifest as listed at
  https://detection-wiki-dev.pages.dev/microsoft-windows-windowsupdateclient/)
- a signed decimal HRESULT, ``Installer error -2145124318``
  (https://github.com/bklockwood/PSWU/issues/47)
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

SOURCES: dict[str, str] = {
    "ref": "https://learn.microsoft.com/en-us/windows/deployment/update/windows-update-error-reference",
    "net": "https://learn.microsoft.com/en-us/windows/win32/wua_sdk/wua-networking-error-codes-",
    "common": "https://learn.microsoft.com/en-us/troubleshoot/windows-client/"
    "installing-updates-features-roles/common-windows-update-errors",
    "winhttp": "https://learn.microsoft.com/windows/win32/winhttp/error-messages",
    "com": "https://learn.microsoft.com/en-us/windows/win32/com/com-error-codes-1",
    "bits": "https://microsoft.github.io/windows-docs-rs/doc/windows/Win32/Networking/"
    "BackgroundIntelligentTransferService/constant.BG_E_HTTP_ERROR_404.html",
}


@dataclass(frozen=True, slots=True)
class WuError:
    """One Windows Update result code."""

    code: int
    name: str
    #: what it means, in the words of the source (shortened)
    meaning: str
    next_step: str
    #: key of :data:`SOURCES`
    source: str
    #: True: the client cannot reach or use its update server (search, self-update and
    #: download stop); False: an error that does not by itself stop self-update
    blocking: bool = True
    #: False for results that are not failures (``WU_E_NOOP`` is logged by healthy agents)
    failure: bool = True


_NETWORK = (
    "Check from the client that the WUServer host name resolves and its port is reachable "
    "(proxy: netsh winhttp show proxy; firewall), then re-run the check."
)
_SERVER_HTTP = (
    "Look at the WSUS server's IIS log for the same request and at its application pool "
    "(WsusPool) and site configuration; the client reached the server and was refused."
)

_TABLE: tuple[WuError, ...] = (
    # -- HTTP answers (WUA networking error codes) --------------------------------------
    WuError(
        0x80244016,
        "WU_E_PT_HTTP_STATUS_BAD_REQUEST",
        "the server answered HTTP 400 (request could not be processed)",
        _SERVER_HTTP,
        "net",
    ),
    WuError(
        0x80244017,
        "WU_E_PT_HTTP_STATUS_DENIED",
        "the server answered HTTP 401 (the resource requires authentication)",
        "Enable anonymous access on the WSUS site, "
        "ClientWebService and Selfupdate (SharePoint or IIS changes often remove it).",
        "net",
    ),
    WuError(
        0x80244018,
        "WU_E_PT_HTTP_STATUS_FORBIDDEN",
        "the server answered HTTP 403 (it understood the request but declined it)",
        "Check IIS authorization, IP restrictions and SharePoint on the WSUS and port-80 sites.",
        "net",
    ),
    WuError(
        0x80244019,
        "WU_E_PT_HTTP_STATUS_NOT_FOUND",
        "the server answered HTTP 404 — the self-update tree or ClientWebService is missing",
        "Check that the port-80 site has "
        "the Selfupdate virtual directory and the WSUS site ClientWebService "
        "(InstallSelfupdateOnPort80.vbs re-creates the tree), and that WUServer points at "
        "a WSUS, not a SUS, server.",
        "net",
    ),
    WuError(
        0x8024401A,
        "WU_E_PT_HTTP_STATUS_BAD_METHOD",
        "the server answered HTTP 405 (method not allowed)",
        _SERVER_HTTP,
        "net",
    ),
    WuError(
        0x8024401B,
        "WU_E_PT_HTTP_STATUS_PROXY_AUTH_REQ",
        "HTTP 407: the proxy requires authentication",
        "The agent uses the WinHTTP proxy without user credentials: "
        "bypass the proxy for the WSUS server or allow it unauthenticated "
        "(netsh winhttp show proxy).",
        "common",
    ),
    WuError(
        0x8024401C,
        "WU_E_PT_HTTP_STATUS_REQUEST_TIMEOUT",
        "HTTP 408: the server timed out waiting for the request",
        "Check the WSUS server's load and its WsusPool "
        "(queue length, private memory limit) and the network path.",
        "net",
    ),
    WuError(
        0x8024401F,
        "WU_E_PT_HTTP_STATUS_SERVER_ERROR",
        "the server answered HTTP 500 (an error inside the server)",
        "Read the WSUS server's IIS log and the Application "
        "event log for the ClientWebService error; WsusPool and the database are the "
        "usual suspects.",
        "net",
    ),
    WuError(
        0x80244021,
        "WU_E_PT_HTTP_STATUS_BAD_GATEWAY",
        "HTTP 502: a gateway or proxy got an invalid answer upstream",
        _NETWORK,
        "net",
    ),
    WuError(
        0x80244022,
        "WU_E_PT_HTTP_STATUS_SERVICE_UNAVAIL",
        "the server answered HTTP 503 "
        "(service unavailable) — typically the WsusPool application pool is stopped",
        "Start the WsusPool application pool on the WSUS server and find why it stopped "
        "(rapid-fail protection, private memory limit).",
        "common",
    ),
    WuError(
        0x80244023,
        "WU_E_PT_HTTP_STATUS_GATEWAY_TIMEOUT",
        "HTTP 504: timed out waiting for a gateway",
        _NETWORK,
        "net",
    ),
    WuError(
        0x8024402B,
        "WU_E_PT_HTTP_STATUS_NOT_MAPPED",
        "the HTTP request failed for a reason no other WU_E_PT_HTTP_* code covers",
        _SERVER_HTTP,
        "net",
    ),
    WuError(
        0x8024402C,
        "WU_E_PT_WINHTTP_NAME_NOT_RESOLVED",
        "the proxy or target server name cannot be resolved",
        "Check that the client resolves the WUServer host name "
        "(nslookup) and that the WinHTTP proxy, if any, is reachable.",
        "net",
    ),
    WuError(
        0x8024402F,
        "WU_E_PT_ECP_SUCCEEDED_WITH_ERRORS",
        "external cab file processing completed with some errors",
        "A web filter may be altering downloads; exempt the update server.",
        "common",
        blocking=False,
    ),
    # -- Protocol Talker (SOAP) ----------------------------------------------------------
    WuError(
        0x80244004,
        "WU_E_PT_SOAPCLIENT_CONNECT",
        "the SOAP client failed to connect to the server",
        _NETWORK,
        "ref",
    ),
    WuError(
        0x80244007,
        "WU_E_PT_SOAPCLIENT_SOAPFAULT",
        "the server returned a SOAP fault (often: the client's cookie could not be renewed)",
        "See Microsoft's article on "
        "0x80244007 scans against WSUS; check the WSUS server's time and its "
        "ClientWebService.",
        "common",
    ),
    WuError(
        0x8024400A,
        "WU_E_PT_SOAPCLIENT_PARSE",
        "the SOAP client could not parse the server's response",
        _SERVER_HTTP,
        "ref",
    ),
    WuError(
        0x8024400D,
        "WU_E_PT_SOAP_CLIENT",
        "the server found the client's SOAP message malformed",
        "Reset the client's update state (SoftwareDistribution) and let the agent self-update.",
        "ref",
    ),
    WuError(
        0x8024400E,
        "WU_E_PT_SOAP_SERVER",
        "the SOAP message could not be processed because of a server error",
        "Look at the WSUS server (ClientWebService, "
        "database, declined or corrupt updates) and retry later.",
        "ref",
    ),
    WuError(
        0x80244010,
        "WU_E_PT_EXCEEDED_MAX_SERVER_TRIPS",
        "the number of round trips to the server exceeded the limit",
        "Usually transient on a first scan against a "
        "large catalogue; re-run detection and decline superseded updates on the "
        "server.",
        "ref",
        blocking=False,
    ),
    WuError(
        0x80244011,
        "WU_E_PT_SUS_SERVER_NOT_SET",
        "the WUServer policy value is missing",
        "Set WUServer and WUStatusServer by Group Policy (client.set_wsus_policy).",
        "ref",
    ),
    WuError(
        0x80244015,
        "WU_E_PT_REFRESH_CACHE_REQUIRED",
        "the server changed or the cookie was invalid; the client must refresh its cache",
        "Usually recovers by itself on the next detection.",
        "ref",
        blocking=False,
    ),
    WuError(
        0x80244026,
        "WU_E_PT_REGISTRATION_NOT_SUPPORTED",
        "the agent does not support registration with a non-WSUS server",
        "WUServer points at a server that is not WSUS (SUS 1.0?): repoint the client.",
        "ref",
    ),
    WuError(
        0x80244FFF,
        "WU_E_PT_UNEXPECTED",
        "a communication error no other WU_E_PT_* code covers",
        _NETWORK,
        "ref",
    ),
    # -- WinHTTP (HRESULT_FROM_WIN32 of the WinHTTP error) --------------------------------
    WuError(
        0x80072EE2, "ERROR_WINHTTP_TIMEOUT", "the request timed out (12002)", _NETWORK, "winhttp"
    ),
    WuError(
        0x80072EE7,
        "ERROR_WINHTTP_NAME_NOT_RESOLVED",
        "the server name cannot be resolved (12007)",
        "Check DNS for the WUServer host name on the client.",
        "winhttp",
    ),
    WuError(
        0x80072EFD,
        "ERROR_WINHTTP_CANNOT_CONNECT",
        "the connection to the server failed (12029)",
        "Check that the WSUS port (80/8530) is open from the client and the site is started.",
        "winhttp",
    ),
    WuError(
        0x80072EFE,
        "ERROR_WINHTTP_CONNECTION_ERROR",
        "the connection with the server was reset or closed abnormally (12030)",
        "Look for a firewall, proxy or TLS inspection device between client and server.",
        "common",
    ),
    WuError(
        0x80072F8F,
        "ERROR_WINHTTP_SECURE_FAILURE",
        "a TLS/certificate error (12175)",
        "Check the WSUS server certificate, its chain on the client, and TLS 1.2 support "
        "on older clients.",
        "winhttp",
    ),
    # -- BITS downloads --------------------------------------------------------------------
    WuError(
        0x80190194,
        "BG_E_HTTP_ERROR_404",
        "a BITS download got HTTP 404 (content or self-update file missing on the server)",
        "Check the WSUS content directory and "
        "the Selfupdate tree; run wsusutil reset if content is missing.",
        "bits",
    ),
    # -- Windows Update agent --------------------------------------------------------------
    WuError(
        0x80240001,
        "WU_E_NO_SERVICE",
        "the agent was unable to provide the service",
        "Restart wuauserv; if it persists, re-register the agent.",
        "ref",
    ),
    WuError(
        0x8024000B,
        "WU_E_CALL_CANCELLED",
        "the operation was cancelled (also when results could not be filtered)",
        "Usually a service stop or shutdown; look at the lines just before it.",
        "common",
        blocking=False,
    ),
    WuError(
        0x8024000C,
        "WU_E_NOOP",
        "no operation was required",
        "Nothing to do.",
        "ref",
        blocking=False,
        failure=False,
    ),
    WuError(
        0x8024000E,
        "WU_E_XML_INVALID",
        "the agent found invalid information in the update's XML data",
        "Make sure the latest Windows Update Agent is installed.",
        "common",
        blocking=False,
    ),
    WuError(
        0x80240016,
        "WU_E_INSTALL_NOT_ALLOWED",
        "an installation was in progress or a mandatory restart is pending",
        "Restart the client.",
        "ref",
        blocking=False,
    ),
    WuError(
        0x80240017,
        "WU_E_NOT_APPLICABLE",
        "there are no applicable updates",
        "Nothing to do.",
        "ref",
        blocking=False,
        failure=False,
    ),
    WuError(
        0x8024001E,
        "WU_E_SERVICE_STOP",
        "the service or system was shutting down",
        "Usually transient (restart, shutdown).",
        "ref",
        blocking=False,
    ),
    WuError(
        0x8024001F, "WU_E_NO_CONNECTION", "the network connection was unavailable", _NETWORK, "ref"
    ),
    WuError(
        0x80240020,
        "WU_E_NO_INTERACTIVE_USER",
        "no interactive user is logged on",
        "Sign in and let the device restart to finish the installation.",
        "common",
        blocking=False,
    ),
    WuError(0x80240021, "WU_E_TIME_OUT", "the operation timed out", _NETWORK, "ref"),
    WuError(
        0x80240022,
        "WU_E_ALL_UPDATES_FAILED",
        "the operation failed for all the updates",
        "Often antivirus blocking SoftwareDistribution; see CBS.log.",
        "common",
        blocking=False,
    ),
    WuError(
        0x80240024,
        "WU_E_NO_UPDATE",
        "there are no updates",
        "Nothing to do.",
        "ref",
        blocking=False,
        failure=False,
    ),
    WuError(
        0x80240025,
        "WU_E_USER_ACCESS_DISABLED",
        "Group Policy settings prevented access to Windows Update",
        "Review the Windows Update policies applied to the client.",
        "ref",
    ),
    WuError(
        0x8024002B,
        "WU_E_LEGACYSERVER",
        "the operation requires a newer version of the server",
        "WUServer points at a legacy (SUS) server: repoint the client at WSUS.",
        "ref",
    ),
    WuError(
        0x8024002E,
        "WU_E_WU_DISABLED",
        "access to an unmanaged server is not allowed",
        "Check the policies: the client refuses Windows Update and has no usable WUServer.",
        "ref",
    ),
    WuError(
        0x80240030,
        "WU_E_INVALID_PROXY_SERVER",
        "the format of the proxy list was invalid",
        "Fix the WinHTTP proxy (netsh winhttp show proxy).",
        "ref",
    ),
    WuError(0x80240034, "WU_E_DOWNLOAD_FAILED", "an update failed to download", _NETWORK, "ref"),
    WuError(
        0x80240038,
        "WU_E_WINHTTP_INVALID_FILE",
        "the downloaded file has an unexpected content type",
        "A proxy or an error page answered instead of the server; check the proxy.",
        "net",
    ),
    WuError(
        0x8024D009,
        "WU_E_SETUP_SKIP_UPDATE",
        "an agent self-update was skipped by a directive in wuident.cab",
        "WSUS is not offering the self-update: see "
        "KB920659 (the WSUS selfupdate service does not send Automatic Updates).",
        "common",
    ),
    WuError(
        0x8024A000,
        "WU_E_AU_NOSERVICE",
        "Automatic Updates was unable to service incoming requests",
        "Restart wuauserv.",
        "ref",
    ),
    WuError(
        0x8024A002,
        "WU_E_AU_NONLEGACYSERVER",
        "the old Automatic Updates client stopped because the WSUS server has been upgraded",
        "The agent must self-update: check the port-80 Selfupdate tree.",
        "ref",
    ),
    WuError(
        0x80242014,
        "WU_E_UH_POSTREBOOTSTILLPENDING",
        "the post-restart operation of an update is still in progress",
        "Restart the client.",
        "common",
        blocking=False,
    ),
    WuError(
        0x80246008,
        "WU_E_DM_FAILTOCONNECTTOBITS",
        "the download manager could not connect to BITS",
        "Start the BITS service (start mode Manual or Auto).",
        "ref",
    ),
    # -- Windows / COM -----------------------------------------------------------------
    WuError(
        0x80070005,
        "E_ACCESSDENIED",
        "general access denied error",
        "See CBS.log for the object whose permissions changed.",
        "common",
        blocking=False,
    ),
    WuError(
        0x80070057,
        "E_INVALIDARG",
        "one or more arguments are invalid",
        "Often a "
        "corrupt SoftwareDistribution data store or bad policy value; reset the "
        "client's update state.",
        "com",
        blocking=False,
    ),
    WuError(
        0x80070422,
        "ERROR_SERVICE_DISABLED",
        "the Windows Update service is disabled or not running",
        "Set wuauserv to start and start it (client.restart_wuauserv).",
        "common",
    ),
)

ERRORS: dict[int, WuError] = {entry.code: entry for entry in _TABLE}

# 8 hex digits of a failure HRESULT (severity bit set: first digit 8-F)
_HEX = r"([89a-f][0-9a-f]{7})"
_PATTERNS = (
    # 0x80244019, error 0x..., error = 0x..., Exit code = 0x...
    re.compile(r"(?<![0-9a-z])0x" + _HEX + r"(?![0-9a-f])", re.IGNORECASE),
    # hr = 80070057, hr=8024402C (no 0x)
    re.compile(r"\bhr\s*=\s*" + _HEX + r"(?![0-9a-f])", re.IGNORECASE),
    # Get-WindowsUpdateLog: *FAILED* [8024000C]
    re.compile(r"\[" + _HEX + r"\]", re.IGNORECASE),
    # "error 8024402C", "error = 8024000B", "with error code 80072EE2" (no 0x)
    re.compile(r"\berror(?:\s+code)?\s*[=:]?\s*" + _HEX + r"(?![0-9a-f])", re.IGNORECASE),
)
# a signed decimal HRESULT: "Installer error -2145124318"
_DECIMAL = re.compile(r"(?<![0-9])-(2\d{9})(?![0-9])")


def find_codes(text: str) -> list[int]:
    """Every failure HRESULT in ``text``, in order of appearance, each once."""
    found: list[tuple[int, int]] = []
    for pattern in _PATTERNS:
        for match in pattern.finditer(text):
            found.append((match.start(1), int(match.group(1), 16)))
    for match in _DECIMAL.finditer(text):
        value = -int(match.group(1))
        if -(2**31) <= value < 0:
            found.append((match.start(1), value & 0xFFFFFFFF))
    seen: set[int] = set()
    codes = []
    for _, code in sorted(found):
        if code not in seen:
            seen.add(code)
            codes.append(code)
    return codes


def failing_codes(text: str) -> list[int]:
    """:func:`find_codes` without the codes the table says are not failures."""
    return [code for code in find_codes(text) if is_failure(code)]


def lookup(code: int) -> WuError | None:
    return ERRORS.get(code)


def is_failure(code: int) -> bool:
    entry = ERRORS.get(code)
    return entry.failure if entry is not None else True


def is_blocking(code: int) -> bool:
    """Unknown codes are not assumed blocking: they are shown raw and warn."""
    entry = ERRORS.get(code)
    return entry.blocking and entry.failure if entry is not None else False


def format_code(code: int) -> str:
    return f"0x{code:08X}"


def describe(code: int) -> str:
    """``0x80244019 (WU_E_PT_HTTP_STATUS_NOT_FOUND: the server answered HTTP 404 ...)``."""
    entry = ERRORS.get(code)
    if entry is None:
        return f"{format_code(code)} (not in wsusbot's table of Windows Update codes)"
    return f"{format_code(code)} ({entry.name}: {entry.meaning})"


def decisive(codes: Iterable[tuple[int, int]]) -> int | None:
    """The code that names a failure: ``codes`` are ``(order, code)`` pairs, ``order``
    growing with time; the most frequent wins, ties go to the most recent."""
    counts: dict[int, int] = {}
    last: dict[int, int] = {}
    for order, code in codes:
        counts[code] = counts.get(code, 0) + 1
        last[code] = max(last.get(code, order), order)
    if not counts:
        return None
    return max(counts, key=lambda code: (counts[code], last[code]))
