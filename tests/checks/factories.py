"""Literal facts for check tests: a healthy client and server, changed one field at a time.

``client(**{"policy.UseWUServer": 0})`` returns healthy client facts with that one value
replaced; a path ending in a list index (``"iis.sites.0.state"``) reaches into lists.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from checks.facts import ClientFacts, ServerFacts
from checks.model import CheckContext, Finding, Status, Thresholds

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
WSUS_URL = "http://wsus01:8530"

_HEALTHY_CLIENT: dict[str, Any] = {
    "schema": "wsusbot.client_facts/1",
    "host": "xp01",
    "collected_at": "2026-11-25T12:00:00Z",
    "os": {
        "caption": "Microsoft Windows XP Professional",
        "version": "5.1.2600",
        "build": "2600",
        "arch": "x86",
        "language": "en",
        "selfupdate_os": "XP",
    },
    "agent": {"wuaueng_version": "7.6.7600.256"},
    "policy": {
        "WUServer": WSUS_URL,
        "WUStatusServer": WSUS_URL,
        "UseWUServer": 1,
        "NoAutoUpdate": 0,
        "AUOptions": 4,
        "TargetGroup": None,
        "TargetGroupEnabled": None,
    },
    "au": {
        "AUState": 2,
        # the form Automatic Updates writes (DetectionStartTime = "2003.09.10 12:38:10" in
        # http://smallvoid.com/article/winnt-automatic-updates-config.html); LastWaitTimeout
        # UTC, DetectionStartTime local time (here UTC+9)
        "LastWaitTimeout": "2026.11.25 13:00:00",
        "DetectionStartTime": "2026.11.25 20:55:00",
        "last_search_success": "2026-11-25T06:00:00Z",
        "reboot_required": False,
        # the Control Panel value in the same key (4 = scheduled install, smallvoid.com)
        "AUOptions": 4,
    },
    "services": {
        "wuauserv": {"state": "Running", "start_mode": "Auto"},
        "BITS": {"state": "Stopped", "start_mode": "Manual"},
    },
    "http": [
        {"url": f"{WSUS_URL}/ClientWebService/client.asmx", "status": 200, "error": None},
        {"url": "http://wsus01/iuident.cab", "status": 200, "error": None},
        {"url": "http://wsus01/selfupdate/wuident.cab", "status": 200, "error": None},
        {"url": "http://wsus01/selfupdate/AU/x86/XP/EN/wuaucomp.cab", "status": 200},
    ],
    "logs": {
        "windowsupdate_log": {
            "path": "C:\\WINDOWS\\WindowsUpdate.log",
            "exists": True,
            "tail": [
                "2026-11-25\t10:00:01:100\t 988\td14\tAU\t#############",
                "2026-11-25\t10:00:01:200\t 988\td14\tAU\t## START ##  AU: Search for updates",
                "2026-11-25\t10:00:09:500\t 988\td14\tPT\tWARNING: Cached cookie has expired",
            ],
        },
        "urllog_dat": {
            "path": "C:\\Program Files\\WindowsUpdate\\V4\\urllog.dat",
            "exists": False,
            "pingback_cached": None,
        },
        # Windows XP has no Microsoft-Windows-WindowsUpdateClient/Operational log
        "windowsupdate_events": {
            "log": "Microsoft-Windows-WindowsUpdateClient/Operational",
            "available": False,
            "events": None,
        },
    },
    "proxy": {"winhttp": None, "bypass": []},
    "errors": [],
    "bot_http": [
        {"url": f"{WSUS_URL}/ClientWebService/client.asmx", "status": 200},
        {"url": "http://wsus01/iuident.cab", "status": 200},
        {"url": "http://wsus01/selfupdate/wuident.cab", "status": 200},
        {"url": "http://wsus01/selfupdate/AU/x86/XP/EN/wuaucomp.cab", "status": 200},
    ],
}

_HEALTHY_SERVER: dict[str, Any] = {
    "schema": "wsusbot.server_facts/1",
    "host": "wsus01",
    "collected_at": "2026-11-25T12:00:00Z",
    "wsus": {
        "installed": True,
        "version": "3.2.7600.226",
        "install_dir": "C:\\Program Files\\Update Services",
        "port": 8530,
        "ssl": False,
        "selfupdate_script_present": True,
    },
    "iis": {
        "version": "7.5",
        "sites": [
            {
                "name": "Default Web Site",
                "id": 1,
                "state": "Started",
                "bindings": [{"protocol": "http", "port": 80, "host": ""}],
                "log_dir": "C:\\inetpub\\logs\\LogFiles\\W3SVC1",
                "anonymous_auth": True,
                "vdirs": [
                    {
                        "path": "/Selfupdate",
                        "physical_path": "C:\\Program Files\\Update Services\\Selfupdate",
                        "exists": True,
                        "anonymous_auth": True,
                    }
                ],
                "sharepoint": {"present": False, "excluded_paths": []},
            },
            {
                "name": "WSUS Administration",
                "id": 2,
                "state": "Started",
                "bindings": [{"protocol": "http", "port": 8530, "host": ""}],
                "log_dir": "C:\\inetpub\\logs\\LogFiles\\W3SVC2",
                "anonymous_auth": True,
                "vdirs": [
                    {
                        "path": "/ClientWebService",
                        "physical_path": "C:\\Program Files\\Update Services\\WebServices",
                        "exists": True,
                        "anonymous_auth": True,
                    },
                    {
                        "path": "/Selfupdate",
                        "physical_path": "C:\\Program Files\\Update Services\\Selfupdate",
                        "exists": True,
                        "anonymous_auth": True,
                    },
                ],
                "sharepoint": {"present": False, "excluded_paths": []},
            },
        ],
        "app_pools": [
            {"name": "DefaultAppPool", "state": "Started"},
            {
                "name": "WsusPool",
                "state": "Started",
                "private_memory_kb": 0,
                "queue_length": 1000,
            },
        ],
    },
    "services": {
        "WsusService": {"state": "Running", "start_mode": "Auto"},
        "W3SVC": {"state": "Running", "start_mode": "Auto"},
    },
    "http": [
        {"url": "http://wsus01/selfupdate/wuident.cab", "status": 200, "error": None},
        {"url": "http://wsus01/iuident.cab", "status": 200, "error": None},
        {"url": f"{WSUS_URL}/ClientWebService/client.asmx", "status": 200, "error": None},
    ],
    "errors": [],
    "wsus_computers": {
        "schema": "wsusbot.wsus_computers/1",
        "computers": [
            {
                "name": "xp01.corp",
                "ip": "10.0.0.21",
                "client_version": "7.6.7600.256",
                "os": "Windows XP",
                "last_sync_time": "2026-11-24T08:00:00Z",
            },
            {
                "name": "win10.corp",
                "ip": "10.0.0.22",
                "client_version": "10.0.19041.3636",
                "os": "Windows 10",
                "last_sync_time": "2026-11-25T09:00:00Z",
            },
        ],
        "errors": [],
    },
}


def _set(document: dict[str, Any], path: str, value: Any) -> None:
    keys = path.split(".")
    node: Any = document
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    last = keys[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def client_doc(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(_HEALTHY_CLIENT)
    for path, value in changes.items():
        _set(document, path, value)
    return document


def server_doc(**changes: Any) -> dict[str, Any]:
    document = copy.deepcopy(_HEALTHY_SERVER)
    for path, value in changes.items():
        _set(document, path, value)
    return document


def client(**changes: Any) -> ClientFacts:
    return ClientFacts.model_validate(client_doc(**changes))


def server(**changes: Any) -> ServerFacts:
    return ServerFacts.model_validate(server_doc(**changes))


def ctx(
    *,
    now: datetime = NOW,
    expected_wsus_url: str | None = WSUS_URL,
    previous: ClientFacts | ServerFacts | None = None,
    **thresholds: Any,
) -> CheckContext:
    return CheckContext(
        now=now,
        thresholds=Thresholds(**thresholds),
        expected_wsus_url=expected_wsus_url,
        previous=previous,
    )


def http(url: str, status: int | None = 200, error: str | None = None) -> dict[str, Any]:
    return {"url": url, "status": status, "error": error, "elapsed_ms": 12.5}


def probe_error(source: str, message: str) -> dict[str, str]:
    return {"source": source, "message": message}


def computer(
    name: str, last_sync: str | None, version: str | None = "7.6.7600.256"
) -> dict[str, Any]:
    return {"name": name, "client_version": version, "last_sync_time": last_sync}


def assert_problem(finding: Finding, status: Status, fix: str | None) -> None:
    """A non-pass finding must say what is wrong, what was seen and what to do."""
    assert finding.status is status, finding
    assert finding.summary
    assert "\n" not in finding.summary
    assert finding.evidence, finding
    assert finding.next_step, finding
    assert finding.fix == fix, finding


def assert_unknown(finding: Finding, *mentions: str) -> None:
    assert finding.status is Status.UNKNOWN, finding
    text = " ".join((finding.summary, *finding.evidence))
    for mention in mentions:
        assert mention in text, (mention, finding)
