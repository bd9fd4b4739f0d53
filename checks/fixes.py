"""Fix metadata (docs/catalogue.md, "Fixes"). Execution lives in ``handlers/fixes.py``
and the bot's approval use cases; this module only says what each fix is, what it
touches, which facts its card shows, how success is verified and when it is followed up."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from checks.errors import UsageError
from checks.model import Role


class Risk(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    #: never executed by the bot: the card shows runbook steps instead
    MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class FixMeta:
    id: str
    role: Role
    title: str
    risk: Risk
    #: what the account the bot uses needs on the host
    rights: str
    #: what the fix changes, for the approval card
    changes: tuple[str, ...]
    #: the checks that must pass afterwards
    verified_by: tuple[str, ...]
    #: runbook steps shown for manual fixes (and as context for the others)
    runbook: tuple[str, ...] = ()
    #: the fix probe name (``handlers/probes/<probe>.ps1``); None for manual fixes
    probe: str | None = None
    #: minutes after the fix when a follow-up check runs (self-update takes 6-10 min)
    followup_minutes: int | None = None
    caveat: str | None = None
    #: facts shown on the approval card as "now on the host" (dotted facts paths)
    card_facts: tuple[str, ...] = ()
    #: probe parameter -> the inventory attribute (of the target) it takes its value from;
    #: parameters never come from what a user typed
    params_from_inventory: tuple[tuple[str, str], ...] = ()

    @property
    def executable(self) -> bool:
        return self.risk is not Risk.MANUAL and self.probe is not None


_LOCAL_ADMIN = "local Administrators on the host (WinRM remote shell access)"

FIXES: tuple[FixMeta, ...] = (
    FixMeta(
        id="server.install_selfupdate_port80",
        card_facts=("wsus.install_dir",),
        role="server",
        title="Install the self-update tree on the port-80 site",
        risk=Risk.MEDIUM,
        rights=_LOCAL_ADMIN + "; IIS configuration write",
        changes=(
            'runs cscript "<WSUS install dir>\\setup\\InstallSelfupdateOnPort80.vbs"',
            "creates the Selfupdate virtual directory (and its content) on the site bound "
            "to port 80",
        ),
        verified_by=("server.port80_site", "server.selfupdate_vdir", "server.selfupdate_http"),
        runbook=(
            "Make sure a started IIS site is bound to http port 80 (it need not be WSUS's).",
            'On the WSUS server run: cscript "%ProgramFiles%\\Update Services\\setup\\'
            'InstallSelfupdateOnPort80.vbs"',
            "Browse http://<server>/selfupdate/wuident.cab from a client: it must download.",
        ),
        probe="fix_install_selfupdate_port80",
    ),
    FixMeta(
        id="server.enable_anonymous_auth",
        role="server",
        title="Enable anonymous authentication on the self-update paths",
        risk=Risk.MEDIUM,
        rights=_LOCAL_ADMIN + "; IIS configuration write",
        changes=(
            "anonymousAuthentication enabled=true on the site root of the port-80 site",
            "the same on its ClientWebService and Selfupdate virtual directories",
        ),
        verified_by=("server.anonymous_auth", "server.selfupdate_http"),
        runbook=(
            "IIS Manager > the WSUS / port-80 site > Authentication > Anonymous: Enabled, on "
            "the site root, ClientWebService and Selfupdate.",
        ),
        probe="fix_enable_anonymous_auth",
    ),
    FixMeta(
        id="server.sharepoint_exclude_paths",
        role="server",
        title="Keep SharePoint off the self-update paths",
        risk=Risk.MANUAL,
        rights="SharePoint farm administrator",
        changes=(
            "WSS 2.0: managed-path exclusions for /iuident.cab, /wutrack.bin, "
            "/clientwebservice and /Selfupdate",
            "WSS 3.0 / MOSS 2007 and later: removes the managed-path inclusion that claims a "
            "self-update path (those versions have no exclusions), or moves SharePoint off "
            "the port-80 site",
        ),
        verified_by=("server.sharepoint_conflict",),
        # WSS 2.0 has included and excluded paths (Managing Paths (WSS 2.0),
        # https://learn.microsoft.com/en-us/previous-versions/tn-archive/cc287929(v=office.12));
        # from WSS 3.0 addpath takes explicit or wildcard inclusions only
        # (https://learn.microsoft.com/en-us/previous-versions/office/sharepoint-2007-products-and-technologies/cc288781(v=office.12))
        # and IIS vdirs/files are excluded automatically (SPPrefixType.Exclusion obsolete,
        # https://learn.microsoft.com/en-us/previous-versions/office/developer/sharepoint-services/ms464544(v=office.12))
        runbook=(
            "WSS 2.0 (version 6.0.x): for each of /iuident.cab, /wutrack.bin, "
            "/clientwebservice, /Selfupdate run stsadm -o addpath -url "
            "http://<server>/<path> -type exclusion (e.g. -url http://server/Selfupdate).",
            "WSS 3.0 / MOSS 2007 and later (12.0+): there are no excluded paths. List the "
            "inclusions (stsadm -o enummanagedpaths -url http://<server>, or "
            "Get-SPManagedPath -WebApplication http://<server> on 2010+) and delete the one "
            "that claims a self-update path (stsadm -o deletepath -url http://<server>/<path>, "
            "or Remove-SPManagedPath), or move SharePoint to another IIS site or port.",
            "Allow anonymous access on the site root, ClientWebService and Selfupdate (IIS "
            "Authentication > Anonymous).",
            "iisreset, then press 'Mark done' to re-check.",
        ),
    ),
    FixMeta(
        id="server.start_services",
        card_facts=(
            "services.W3SVC.state",
            "services.WsusService.state",
        ),
        role="server",
        title="Start WSUS, IIS and the WsusPool application pool",
        risk=Risk.LOW,
        rights=_LOCAL_ADMIN,
        changes=("Start-Service W3SVC, WsusService", "starts the WsusPool application pool"),
        verified_by=("server.services",),
        runbook=("net start W3SVC", "net start WsusService", "appcmd start apppool WsusPool"),
        probe="fix_start_services",
    ),
    FixMeta(
        id="server.raise_wsuspool_memory",
        # dotted paths only (list entries cannot be named); the card's "before" comes
        # from the fix result
        card_facts=("wsus.version", "iis.version"),
        role="server",
        title="Raise the WsusPool private memory limit and queue length",
        risk=Risk.MEDIUM,
        rights=_LOCAL_ADMIN + "; IIS configuration write",
        changes=(
            "WsusPool recycling/periodicRestart privateMemory = 7372800 KB (four times the "
            "1843200 KB WSUS default)",
            "WsusPool queueLength = 2000 (only when it is lower)",
            "recycles WsusPool (clients in the middle of a scan retry)",
        ),
        verified_by=("server.wsuspool", "server.clientwebservice_http"),
        # Microsoft (ConfigMgr "Plan for software updates"): "Increase the WsusPool Private
        # Memory limit x4 times, or set to 0 (unlimited)", quoted in
        # https://github.com/MicrosoftDocs/SCCMdocs/issues/519; 1843200 KB default and the
        # 2000 queue length: third-party (checks/server/wsuspool.py)
        runbook=(
            "IIS Manager > Application Pools > WsusPool > Advanced Settings: Recycling > "
            "Private Memory Limit (KB) = 7372800 (or 0), Queue Length = 2000.",
            "or: %windir%\\system32\\inetsrv\\appcmd set apppool WsusPool "
            "/recycling.periodicRestart.privateMemory:7372800 /queueLength:2000",
            "Recycle WsusPool, then re-check.",
        ),
        probe="fix_raise_wsuspool_memory",
    ),
    FixMeta(
        id="client.set_wsus_policy",
        card_facts=(
            "policy.WUServer",
            "policy.WUStatusServer",
            "policy.UseWUServer",
            "policy.NoAutoUpdate",
        ),
        role="client",
        title="Point the client at its WSUS server",
        risk=Risk.MEDIUM,
        rights=_LOCAL_ADMIN,
        changes=(
            "HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\WindowsUpdate: WUServer and "
            "WUStatusServer = the inventory's WSUS URL",
            "...\\WindowsUpdate\\AU: UseWUServer = 1, NoAutoUpdate removed",
        ),
        verified_by=(
            "client.policy_wuserver",
            "client.policy_use_wuserver",
            "client.au_enabled",
        ),
        runbook=(
            "Prefer fixing the GPO that targets this computer (Windows Update > Specify "
            "intranet Microsoft update service location).",
            "gpupdate /force, then wuauclt /detectnow.",
        ),
        probe="fix_set_wsus_policy",
        params_from_inventory=(("wsus_url", "wsus_url"), ("status_url", "wsus_url")),
        caveat="Domain Group Policy overwrites these values at the next refresh unless the "
        "GPO is fixed too.",
    ),
    FixMeta(
        id="client.enable_automatic_updates",
        card_facts=(
            "policy.NoAutoUpdate",
            "policy.AUOptions",
            "au.AUOptions",
            "services.wuauserv.state",
        ),
        role="client",
        title="Turn Automatic Updates back on",
        risk=Risk.MEDIUM,
        rights=_LOCAL_ADMIN,
        changes=(
            "HKLM\\SOFTWARE\\Policies\\Microsoft\\Windows\\WindowsUpdate\\AU: "
            "NoAutoUpdate removed if 1, AUOptions removed if 1 (disabled)",
            "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\WindowsUpdate\\Auto Update: "
            "AUOptions = 3 (download automatically, notify to install) if it was 1 (off in "
            "Control Panel)",
            "restarts wuauserv if it was running (it reads these settings when it starts)",
        ),
        verified_by=("client.au_enabled",),
        runbook=(
            "Prefer the GPO: Windows Update > Configure Automatic Updates = Enabled (2, 3 or "
            "4), then gpupdate /force.",
            "Without a policy: Control Panel > Automatic Updates > 'Download updates for me, "
            "but let me choose when to install them'.",
            "net stop wuauserv && net start wuauserv; if AUState is 7, reset it too "
            "(client.reset_au_state).",
        ),
        probe="fix_enable_automatic_updates",
        caveat="Domain Group Policy writes NoAutoUpdate / AUOptions back at the next refresh "
        "unless the GPO is fixed too; AUOptions 3 downloads updates but installs none "
        "without a person.",
    ),
    FixMeta(
        id="client.reset_au_state",
        card_facts=(
            "au.AUState",
            "au.LastWaitTimeout",
            "au.DetectionStartTime",
            "services.wuauserv.state",
        ),
        role="client",
        title="Reset Automatic Updates detection state",
        risk=Risk.LOW,
        rights=_LOCAL_ADMIN,
        changes=(
            "...\\WindowsUpdate\\Auto Update: AUState = 2",
            "deletes LastWaitTimeout and DetectionStartTime",
            "restarts the wuauserv service",
        ),
        verified_by=("client.au_state", "client.detection_stalled"),
        runbook=(
            'reg add "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\WindowsUpdate\\'
            'Auto Update" /v AUState /t REG_DWORD /d 2 /f',
            "delete the LastWaitTimeout and DetectionStartTime values in that key",
            "net stop wuauserv && net start wuauserv",
            "wait 6-10 minutes for detection and self-update, then re-check",
        ),
        probe="fix_reset_au_state",
        followup_minutes=10,
    ),
    FixMeta(
        id="client.restart_wuauserv",
        card_facts=(
            "services.wuauserv.state",
            "services.wuauserv.start_mode",
        ),
        role="client",
        title="Restart the Automatic Updates service",
        risk=Risk.LOW,
        rights=_LOCAL_ADMIN,
        changes=("net stop wuauserv", "net start wuauserv (start mode set to Auto if Disabled)"),
        verified_by=("client.services",),
        runbook=("sc config wuauserv start= auto", "net stop wuauserv", "net start wuauserv"),
        probe="fix_restart_wuauserv",
    ),
)

_BY_ID = {fix.id: fix for fix in FIXES}


def fix_ids() -> tuple[str, ...]:
    return tuple(_BY_ID)


def get_fix(fix_id: str) -> FixMeta:
    try:
        return _BY_ID[fix_id]
    except KeyError:
        raise UsageError(
            f"unknown fix {fix_id[:80]!r}; known fixes: " + ", ".join(sorted(_BY_ID))
        ) from None
