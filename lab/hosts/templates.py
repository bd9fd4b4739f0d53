"""Healthy host state, per OS and server kind; scenarios deep-merge their changes on top."""

from __future__ import annotations

import copy
from typing import Any

from lab.hosts.values import JsonDict

#: the agent version a healthy WSUS 3.0 SP2 self-update tree serves
CURRENT_CLIENT_VERSION = "7.6.7600.256"

_XP_LOG = "C:\\WINDOWS\\WindowsUpdate.log"
_URLLOG = "C:\\Program Files\\WindowsUpdate\\V4\\urllog.dat"

#: OS presets: the facts' ``os`` block, where the update log lives and the agent it runs
OS_PRESETS: dict[str, JsonDict] = {
    "xp": {
        "os": {
            "caption": "Microsoft Windows XP Professional",
            "version": "5.1.2600",
            "build": "2600",
            "arch": "x86",
            "language": "en",
            "selfupdate_os": "XP",
        },
        "agent": {"wuaueng_version": CURRENT_CLIENT_VERSION},
        "log_path": _XP_LOG,
    },
    "2003": {
        "os": {
            "caption": "Microsoft(R) Windows(R) Server 2003, Standard Edition",
            "version": "5.2.3790",
            "build": "3790",
            "arch": "x86",
            "language": "en",
            "selfupdate_os": "NetServer",
        },
        "agent": {"wuaueng_version": CURRENT_CLIENT_VERSION},
        "log_path": _XP_LOG,
    },
    "win7": {
        "os": {
            "caption": "Microsoft Windows 7 Enterprise",
            "version": "6.1.7601",
            "build": "7601",
            "arch": "x64",
            "language": "en",
            "selfupdate_os": None,
        },
        "agent": {"wuaueng_version": "7.6.7601.24436"},
        "log_path": "C:\\Windows\\WindowsUpdate.log",
    },
    "win10": {
        "os": {
            "caption": "Microsoft Windows 10 Enterprise",
            "version": "10.0.19045",
            "build": "19045",
            "arch": "x64",
            "language": "en",
            "selfupdate_os": None,
        },
        "agent": {"wuaueng_version": "10.0.19041.3636"},
        "log_path": "C:\\Windows\\WindowsUpdate.log",
        "log_kind": "etw",
    },
    "win11": {
        "os": {
            "caption": "Microsoft Windows 11 Enterprise",
            "version": "10.0.22631",
            "build": "22631",
            "arch": "x64",
            "language": "en",
            "selfupdate_os": None,
        },
        "agent": {"wuaueng_version": "10.0.22621.3527"},
        "log_path": "C:\\Windows\\WindowsUpdate.log",
        "log_kind": "etw",
    },
    "2016": {
        "os": {
            "caption": "Microsoft Windows Server 2016 Standard",
            "version": "10.0.14393",
            "build": "14393",
            "arch": "x64",
            "language": "en",
            "selfupdate_os": None,
        },
        "agent": {"wuaueng_version": "10.0.14393.6795"},
        "log_path": "C:\\Windows\\WindowsUpdate.log",
        "log_kind": "etw",
    },
    "2022": {
        "os": {
            "caption": "Microsoft Windows Server 2022 Standard",
            "version": "10.0.20348",
            "build": "20348",
            "arch": "x64",
            "language": "en",
            "selfupdate_os": None,
        },
        "agent": {"wuaueng_version": "10.0.20348.2322"},
        "log_path": "C:\\Windows\\WindowsUpdate.log",
        "log_kind": "etw",
    },
}

#: what %windir%\WindowsUpdate.log holds on Windows 10/11 and Server 2016+: a notice, not a
#: log (text as quoted in public samples, docs/catalogue.md S25; Microsoft:
#: https://learn.microsoft.com/powershell/module/windowsupdate/get-windowsupdatelog)
ETW_STUB_TAIL: tuple[str, ...] = (
    "Windows Update logs are now generated using ETW (Event Tracing for Windows).",
    "Please run the Get-WindowsUpdateLog PowerShell command to convert ETW traces into a "
    "readable WindowsUpdate.log.",
    "For more information, please visit https://go.microsoft.com/fwlink/?LinkId=518345",
)

OPERATIONAL_LOG = "Microsoft-Windows-WindowsUpdateClient/Operational"

#: Microsoft-Windows-WindowsUpdateClient/Operational events of a healthy client: event 26
#: "Windows Update successfully found updateCount updates." (provider manifest as listed
#: at https://detection-wiki-dev.pages.dev/microsoft-windows-windowsupdateclient/);
#: ``time`` is a lab-relative time rendered as ISO UTC when the probe answers
HEALTHY_EVENTS: tuple[JsonDict, ...] = (
    {"time": "now-3h", "id": 26, "level": "Information",
     "message": "Windows Update successfully found 0 updates."},
    {"time": "now-27h", "id": 26, "level": "Information",
     "message": "Windows Update successfully found 0 updates."},
)  # fmt: skip

#: WindowsUpdate.log lines of one successful detection; ``{now-3h}`` is a log timestamp,
#: ``{wuserver}`` the client's WUServer
HEALTHY_LOG_TAIL: tuple[str, ...] = (
    "{now-3h1m}\t 1032\t 5f0\tAU\t#############",
    "{now-3h1m}\t 1032\t 5f0\tAU\t## START ##  AU: Search for updates",
    "{now-3h1m}\t 1032\t 5f0\tAgent\t** START **  Agent: Finding updates [CallerId = "
    "AutomaticUpdates]",
    "{now-3h1m}\t 1032\t 5f0\tPT\t+++++++++++  PT: Synchronizing server updates  +++++++++++",
    "{now-3h1m}\t 1032\t 5f0\tPT\t  + ServiceId = {3DA21691-E39D-4DA6-8A4B-B43877BCB1B7}, "
    "Server URL = {wuserver}/ClientWebService/client.asmx",
    "{now-3h}\t 1032\t 5f0\tAgent\t  * Found 0 updates and 71 categories in search; "
    "evaluated appl. rules of 611 out of 1180 deployed entities",
    "{now-3h}\t 1032\t 5f0\tAgent\t** END **  Agent: Finding updates [CallerId = AutomaticUpdates]",
    "{now-3h}\t 1032\t 5f0\tAU\t>>##  RESUMED  ## AU: Search for updates [CallId = "
    "{9A2B7C11-0E3D-4F4C-9E0B-2E6C5F7A8B90}]",
    "{now-3h}\t 1032\t 5f0\tAU\t  # 0 updates detected",
    "{now-3h}\t 1032\t 5f0\tAU\t## END ##  AU: Search for updates",
)


def client_template(os_name: str) -> JsonDict:
    """A healthy client of ``os_name`` (one of :data:`OS_PRESETS`)."""
    try:
        preset = OS_PRESETS[os_name]
    except KeyError:
        raise ValueError(
            f"unknown client os {os_name!r}; known: {', '.join(sorted(OS_PRESETS))}"
        ) from None
    etw = preset.get("log_kind") == "etw"
    nt6 = not str(preset["os"]["version"]).startswith("5.")
    state: JsonDict = {
        "os": copy.deepcopy(preset["os"]),
        "agent": copy.deepcopy(preset["agent"]),
        "policy": {
            # "@server" = the wsus_url of the client's own server, resolved at answer time
            "WUServer": "@server",
            "WUStatusServer": "@server",
            "UseWUServer": 1,
            "NoAutoUpdate": 0,
            "AUOptions": 4,
            "TargetGroup": None,
            "TargetGroupEnabled": 0,
        },
        "au": {
            "AUState": 2,
            "LastWaitTimeout": None,
            "DetectionStartTime": "now-3h1m",
            "last_search_success": "now-3h",
            "reboot_required": False,
            # Control Panel AUOptions (4 = install automatically); the policy value rules
            "AUOptions": 4,
        },
        "services": {
            "wuauserv": {"state": "Running", "start_mode": "Auto"},
            "BITS": {"state": "Running", "start_mode": "Manual"},
        },
        "logs": {
            "windowsupdate_log": {
                "path": preset["log_path"],
                "exists": True,
                "tail": list(ETW_STUB_TAIL if etw else HEALTHY_LOG_TAIL),
            },
            "urllog_dat": {"path": _URLLOG, "exists": False, "pingback_cached": False},
            # the operational log exists from Vista on (NT 6.0); XP/2003 have none
            "windowsupdate_events": {
                "log": OPERATIONAL_LOG,
                "available": nt6,
                "events": copy.deepcopy(list(HEALTHY_EVENTS)) if nt6 else None,
            },
        },
        # "" = direct access (netsh winhttp: no proxy server)
        "proxy": {"winhttp": "", "bypass": []},
    }
    return state


_WSUS_DIR = "C:\\Program Files\\Update Services"
_WSUS_POOL_VDIRS = (
    "/ClientWebService",
    "/SimpleAuthWebService",
    "/DssAuthWebService",
    "/ServerSyncWebService",
    "/ApiRemoting30",
    "/ReportingWebService",
)


def _vdir(physical_path: str, app_pool: str | None = None) -> JsonDict:
    vdir: JsonDict = {"physical_path": physical_path, "exists": True, "anonymous_auth": True}
    if app_pool is not None:
        vdir["app_pool"] = app_pool
    return vdir


def server_template(kind: str) -> JsonDict:
    """A healthy server: ``wsus`` (WSUS 3.0 SP2 on 8530 plus the Default Web Site on 80 with
    the self-update tree) or ``sus`` (a legacy SUS 1.0 box: one site on port 80)."""
    if kind == "wsus":
        vdirs: dict[str, Any] = {
            path: _vdir(f"{_WSUS_DIR}\\WebServices\\{path.lstrip('/')}", "WsusPool")
            for path in _WSUS_POOL_VDIRS
        }
        vdirs["/Content"] = _vdir("D:\\WSUS\\WsusContent")
        vdirs["/Selfupdate"] = _vdir(f"{_WSUS_DIR}\\Selfupdate")
        return {
            "kind": "wsus",
            "client_version": CURRENT_CLIENT_VERSION,
            "wsus": {
                "installed": True,
                "version": "3.2.7600.256",
                "install_dir": _WSUS_DIR,
                "port": 8530,
                "ssl": False,
                "selfupdate_script_present": True,
            },
            "iis": {
                "version": "7.5",
                "sites": {
                    "Default Web Site": {
                        "id": 1,
                        "state": "Started",
                        "bindings": [{"protocol": "http", "port": 80, "host": ""}],
                        "anonymous_auth": True,
                        "vdirs": {"/Selfupdate": _vdir(f"{_WSUS_DIR}\\Selfupdate")},
                        "sharepoint": {"present": False, "excluded_paths": []},
                        "content": ["/iuident.cab", "/wutrack.bin"],
                    },
                    "WSUS Administration": {
                        "id": 2,
                        "state": "Started",
                        "bindings": [{"protocol": "http", "port": 8530, "host": ""}],
                        "anonymous_auth": True,
                        "vdirs": vdirs,
                        "sharepoint": {"present": False, "excluded_paths": []},
                        "content": ["/iuident.cab"],
                    },
                },
                "app_pools": {"WsusPool": "Started", "DefaultAppPool": "Started"},
                # recycling/periodicRestart privateMemory (KB, 0 = no limit; IIS default 0)
                # and queueLength (IIS default 1000), MicrosoftDocs/iis-docs applicationPools
                # reference; what WSUS 3.0 SP2 setup leaves on WsusPool is not verified.
                # working_set_kb is lab-only: the private memory the pool's worker reaches
                # under the simulated client load (it recycles when that reaches the limit)
                "app_pool_settings": {
                    "WsusPool": {
                        "private_memory_kb": 0,
                        "queue_length": 1000,
                        "working_set_kb": 900000,
                    }
                },
            },
            "services": {
                "WsusService": {"state": "Running", "start_mode": "Auto"},
                "W3SVC": {"state": "Running", "start_mode": "Auto"},
            },
        }
    if kind == "sus":
        return {
            "kind": "sus",
            "client_version": "5.4.3790.1000",
            "wsus": {
                "installed": False,
                "version": None,
                "install_dir": None,
                "port": None,
                "ssl": False,
                "selfupdate_script_present": False,
            },
            "iis": {
                "version": "6.0",
                "sites": {
                    "Default Web Site": {
                        "id": 1,
                        "state": "Started",
                        "bindings": [{"protocol": "http", "port": 80, "host": ""}],
                        "anonymous_auth": True,
                        "vdirs": {
                            "/Selfupdate": _vdir("C:\\Inetpub\\wwwroot\\SelfUpdate"),
                            "/AutoUpdate": _vdir("C:\\Inetpub\\wwwroot\\AutoUpdate"),
                            "/Content": _vdir("C:\\SUS\\content"),
                        },
                        "sharepoint": {"present": False, "excluded_paths": []},
                        "content": ["/iuident.cab", "/wutrack.bin"],
                    }
                },
                "app_pools": {"DefaultAppPool": "Started"},
            },
            "services": {
                "WsusService": None,
                "W3SVC": {"state": "Running", "start_mode": "Auto"},
            },
        }
    raise ValueError(f"unknown server kind {kind!r}; known: wsus, sus")
