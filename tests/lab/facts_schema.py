"""A small structural schema of docs/catalogue.md's facts documents, written from the catalogue
(the lab's tests may not import checks/). Every field may be null unless marked REQUIRED."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Required:
    spec: Any


@dataclass(frozen=True)
class Const:
    value: str


STR: Any = (str,)
INT: Any = (int,)
BOOL: Any = (bool,)
NUM: Any = (int, float)

SERVICE = {"state": STR, "start_mode": STR}
HTTP_RESULT = {"url": Required(STR), "status": INT, "error": STR, "elapsed_ms": NUM}
ERRORS = [{"source": STR, "message": STR}]

CLIENT_FACTS = {
    "schema": Required(Const("wsusbot.client_facts/1")),
    "host": STR,
    "collected_at": STR,
    "os": {
        "caption": STR,
        "version": STR,
        "build": STR,
        "arch": STR,
        "language": STR,
        "selfupdate_os": STR,
    },
    "agent": {"wuaueng_version": STR},
    "policy": {
        "WUServer": STR,
        "WUStatusServer": STR,
        "UseWUServer": INT,
        "NoAutoUpdate": INT,
        "AUOptions": INT,
        "TargetGroup": STR,
        "TargetGroupEnabled": INT,
        "DisableDualScan": INT,
        "DeferQualityUpdates": INT,
        "DeferFeatureUpdates": INT,
        "SetPolicyDrivenUpdateSourceForQualityUpdates": INT,
        "SetPolicyDrivenUpdateSourceForFeatureUpdates": INT,
        "DoNotConnectToWindowsUpdateInternetLocations": INT,
        "UseUpdateClassPolicySource": INT,
    },
    "au": {
        "AUState": INT,
        "AUOptions": INT,
        "LastWaitTimeout": STR,
        "DetectionStartTime": STR,
        "last_search_success": STR,
        "reboot_required": BOOL,
    },
    "services": {"wuauserv": SERVICE, "BITS": SERVICE},
    "http": [HTTP_RESULT],
    "logs": {
        "windowsupdate_log": {
            "path": STR,
            "exists": BOOL,
            "tail": [STR],
            "utc_offset_minutes": INT,
        },
        "urllog_dat": {"path": STR, "exists": BOOL, "pingback_cached": BOOL},
        "windowsupdate_events": {
            "log": STR,
            "available": BOOL,
            "events": [{"time": STR, "id": INT, "level": STR, "message": STR}],
        },
    },
    "proxy": {"winhttp": STR, "bypass": [STR]},
    "errors": ERRORS,
}

SERVER_FACTS = {
    "schema": Required(Const("wsusbot.server_facts/1")),
    "host": STR,
    "collected_at": STR,
    "wsus": {
        "installed": BOOL,
        "version": STR,
        "install_dir": STR,
        "port": INT,
        "ssl": BOOL,
        "selfupdate_script_present": BOOL,
    },
    "iis": {
        "version": STR,
        "sites": [
            {
                "name": STR,
                "id": INT,
                "state": STR,
                "bindings": [{"protocol": STR, "port": INT, "host": STR}],
                "log_dir": STR,
                "anonymous_auth": BOOL,
                "vdirs": [
                    {"path": STR, "physical_path": STR, "exists": BOOL, "anonymous_auth": BOOL}
                ],
                "sharepoint": {
                    "present": BOOL,
                    "excluded_paths": [STR],
                    "version": STR,
                    "managed_paths": [{"path": STR, "kind": STR}],
                },
            }
        ],
        "app_pools": [{"name": STR, "state": STR, "private_memory_kb": INT, "queue_length": INT}],
    },
    "services": {"WsusService": SERVICE, "W3SVC": SERVICE},
    "errors": ERRORS,
}

IIS_LOG = {
    "schema": Required(Const("wsusbot.iis_log/1")),
    "files": [{"name": STR, "size": INT}],
    "lines": [STR],
    "cursor": {"file": STR, "offset": INT},
    "errors": ERRORS,
}

WSUS_COMPUTERS = {
    "schema": Required(Const("wsusbot.wsus_computers/1")),
    "computers": [
        {
            "name": STR,
            "ip": STR,
            "client_version": STR,
            "os": STR,
            "last_sync_time": STR,
            "last_reported_status_time": STR,
            "last_sync_result": STR,
            "target_group": STR,
        }
    ],
    "errors": ERRORS,
}

FIX_RESULT = {
    "fix": Required(STR),
    "changed": Required(BOOL),
    "before": Required({}),
    "after": Required({}),
    "log": Required([STR]),
}


def problems(value: Any, spec: Any, path: str = "$") -> list[str]:
    """Every mismatch between ``value`` and ``spec`` (empty list = valid)."""
    if isinstance(spec, Required):
        if value is None:
            return [f"{path}: required, got null"]
        return problems(value, spec.spec, path)
    if value is None:
        return []
    if isinstance(spec, Const):
        return [] if value == spec.value else [f"{path}: expected {spec.value!r}, got {value!r}"]
    if isinstance(spec, tuple):
        # bool is an int in Python; an int field must not hold true/false
        if isinstance(value, bool) and bool not in spec:
            return [f"{path}: expected {spec}, got bool"]
        return [] if isinstance(value, spec) else [f"{path}: expected {spec}, got {value!r}"]
    if isinstance(spec, list):
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {type(value).__name__}"]
        found: list[str] = []
        for index, item in enumerate(value):
            found += problems(item, spec[0], f"{path}[{index}]")
        return found
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {type(value).__name__}"]
        found = [f"{path}.{key}: missing" for key in spec if key not in value]
        for key, sub in spec.items():
            if key in value:
                found += problems(value[key], sub, f"{path}.{key}")
        return found
    raise TypeError(f"bad spec at {path}: {spec!r}")
