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
        title="Exclude the self-update paths from SharePoint",
        risk=Risk.MANUAL,
        rights="SharePoint farm administrator",
        changes=(
            "SharePoint managed-path exclusions for /iuident.cab, /wutrack.bin, "
            "/clientwebservice and /Selfupdate",
        ),
        verified_by=("server.sharepoint_conflict",),
        runbook=(
            "SharePoint Central Administration > Define managed paths for the web "
            "application on port 80.",
            "Add excluded paths: /iuident.cab, /wutrack.bin, /clientwebservice, /Selfupdate.",
            "Allow anonymous access on those paths (IIS Authentication > Anonymous).",
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
