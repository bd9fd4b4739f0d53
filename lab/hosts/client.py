"""A simulated WSUS client: registry, services, logs, and real HTTP from its own address."""

from __future__ import annotations

import copy
import http.client
import re
import time
import zlib
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from lab.clock import LabClock, iso_utc, parse_offset, registry_time
from lab.hosts.base import ProbeFailure, ProbeHandler, SimulatedHost
from lab.hosts.network import Network
from lab.hosts.values import JsonDict, resolve_time

if TYPE_CHECKING:
    from lab.hosts.server import ServerHost

CLIENT_FACTS = "wsusbot.client_facts/1"
POLICY_KEYS = (
    "WUServer",
    "WUStatusServer",
    "UseWUServer",
    "NoAutoUpdate",
    "AUOptions",
    "TargetGroup",
    "TargetGroupEnabled",
    # Windows 10/11 scan source (docs: wufb-wsus; "dual scan"); absent = null
    "DisableDualScan",
    "DeferQualityUpdates",
    "DeferFeatureUpdates",
    "SetPolicyDrivenUpdateSourceForQualityUpdates",
    "SetPolicyDrivenUpdateSourceForFeatureUpdates",
    "DoNotConnectToWindowsUpdateInternetLocations",
    "UseUpdateClassPolicySource",
)
USER_AGENT = "wsusbot-probe/1"
_TAIL_TIME = re.compile(r"\{(now[^}]*)\}")


def version_key(version: str | None) -> tuple[int, ...]:
    if not version:
        return ()
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))


class ClientHost(SimulatedHost):
    role = "client"

    def __init__(
        self,
        name: str,
        address: str,
        clock: LabClock,
        *,
        state: JsonDict,
        server_name: str | None,
        network: Network,
        network_blocked: dict[str, Any] | None = None,
        utc_offset: timedelta = timedelta(0),
    ) -> None:
        super().__init__(name, address, clock)
        self.state = state
        self.server_name = server_name
        self.network = network
        self.network_blocked: dict[str, Any] = dict(network_blocked or {})
        self.utc_offset = utc_offset
        #: when the detection scheduled by a reset runs (lab time), and what LWT was before
        self.pending_detection_at: datetime | None = None
        self._lwt_before_reset: datetime | None = None

    def fact_probes(self) -> dict[str, tuple[str, ProbeHandler]]:
        return {"client_facts": (CLIENT_FACTS, self._client_facts)}

    def fix_probes(self) -> dict[str, ProbeHandler]:
        return {
            "fix_set_wsus_policy": self._fix_set_wsus_policy,
            "fix_enable_automatic_updates": self._fix_enable_automatic_updates,
            "fix_reset_au_state": self._fix_reset_au_state,
            "fix_restart_wuauserv": self._fix_restart_wuauserv,
        }

    # -- state helpers ---------------------------------------------------------------
    def _policy_value(self, key: str) -> Any:
        value = self.state["policy"].get(key)
        if isinstance(value, str) and value.startswith("@server"):
            target = value.partition(":")[2] or self.server_name
            server = self.network.server(target) if target else None
            return server.wsus_url if server is not None else None
        return value

    def resolved_policy(self) -> JsonDict:
        return {key: self._policy_value(key) for key in POLICY_KEYS}

    def agent_version(self) -> str | None:
        value = self.state["agent"].get("wuaueng_version")
        return str(value) if value is not None else None

    def reports_to(self, server: ServerHost) -> bool:
        """Whether this client is registered with ``server``'s WSUS: a WSUS-era agent
        (5.8 or later) whose policy points at it. SUS-era agents never register."""
        if version_key(self.agent_version()) < (5, 8):
            return False
        if self._policy_value("UseWUServer") != 1:
            return False
        wuserver = self._policy_value("WUServer")
        host = urlsplit(wuserver).hostname if isinstance(wuserver, str) else None
        return host is not None and self.network.server_for_host(host) is server

    def last_search_success(self, now: datetime) -> datetime | None:
        return resolve_time(self.state["au"].get("last_search_success"), now)

    # -- HTTP from the client ----------------------------------------------------------
    def _blocked(self, server_name: str, nominal_port: int) -> str | None:
        rule = self.network_blocked.get(server_name)
        if isinstance(rule, str):
            return rule
        if isinstance(rule, dict):
            found = rule.get(nominal_port, rule.get(str(nominal_port)))
            return str(found) if found else None
        return None

    def fetch(self, url: str, timeout_ms: int) -> JsonDict:
        """GET ``url`` as this client would: the recorded URL is ``url`` itself; the
        request really goes to the lab server's port for that nominal port."""
        started = time.monotonic()

        def result(status: int | None, error: str | None, elapsed: float | None = None) -> JsonDict:
            spent = (time.monotonic() - started) * 1000 if elapsed is None else elapsed
            return {"url": url, "status": status, "error": error, "elapsed_ms": round(spent, 1)}

        parts = urlsplit(url)
        host = parts.hostname or ""
        server = self.network.server_for_host(host)
        if server is None:
            return result(None, "dns")
        try:
            url_port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return result(None, "bad url")
        nominal, actual = server.route_port(url_port)
        blocked = self._blocked(server.name, nominal)
        if blocked == "timeout":
            return result(None, "timeout", float(timeout_ms))
        if blocked:
            return result(None, blocked)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        connection = http.client.HTTPConnection(
            server.address,
            actual,
            timeout=max(timeout_ms, 1) / 1000.0,
            source_address=(self.address, 0),
        )
        try:
            connection.request(
                "GET",
                path,
                headers={"Host": parts.netloc, "User-Agent": USER_AGENT, "Connection": "close"},
            )
            response = connection.getresponse()
            response.read()
            return result(response.status, None)
        except ConnectionRefusedError:
            return result(None, "refused")
        except TimeoutError:
            return result(None, "timeout")
        except (OSError, http.client.HTTPException) as exc:
            return result(None, type(exc).__name__)
        finally:
            connection.close()

    def selfupdate_urls(self, base: str) -> list[str]:
        """docs/probes.md "client_facts: what the client fetches", in order."""
        host = urlsplit(base).hostname or ""
        urls = [
            base.rstrip("/") + "/ClientWebService/client.asmx",
            f"http://{host}/iuident.cab",
            f"http://{host}/selfupdate/wuident.cab",
        ]
        on_wsus_port = base.rstrip("/") + "/selfupdate/wuident.cab"
        if on_wsus_port not in urls:
            urls.append(on_wsus_port)
        selfupdate_os = self.state["os"].get("selfupdate_os")
        if selfupdate_os:
            language = str(self.state["os"].get("language") or "en").upper()
            urls.append(f"http://{host}/selfupdate/AU/x86/{selfupdate_os}/{language}/wuaucomp.cab")
        return urls

    # -- scheduled detection (after a reset) -----------------------------------------
    def _settle(self, now: datetime) -> None:
        due = self.pending_detection_at
        if due is None or now < due:
            return
        self.pending_detection_at = None
        au = self.state["au"]
        base = self._policy_value("WUServer")
        reachable = bool(base) and all(
            self.fetch(url, 10_000)["status"] == 200 for url in self.selfupdate_urls(base)
        )
        au["DetectionStartTime"] = due
        if reachable:
            server = self.network.server_for_host(urlsplit(base).hostname or "")
            offered = server.client_version if server is not None else None
            if offered and version_key(offered) > version_key(self.agent_version()):
                self.state["agent"]["wuaueng_version"] = offered
            au["last_search_success"] = due
            au["LastWaitTimeout"] = due + timedelta(hours=1)
        else:
            previous = self._lwt_before_reset or due
            au["LastWaitTimeout"] = previous + timedelta(hours=24)

    # -- probes ------------------------------------------------------------------------
    def _client_facts(self, params: dict[str, Any]) -> JsonDict:
        now = self.clock.now()
        self._settle(now)
        policy = self.resolved_policy()
        base = policy.get("WUServer") or params.get("expected_wsus_url")
        timeout_ms = int(params.get("timeout_ms") or 5000)
        http = [self.fetch(url, timeout_ms) for url in self.selfupdate_urls(base)] if base else []
        au = self.state["au"]
        lwt = resolve_time(au.get("LastWaitTimeout"), now)
        dst = resolve_time(au.get("DetectionStartTime"), now)
        search = resolve_time(au.get("last_search_success"), now)
        logs = copy.deepcopy(self.state["logs"])
        update_log = logs.get("windowsupdate_log") or {}
        if update_log.get("tail") is not None:
            update_log["tail"] = [
                self._render_log_line(line, now, str(policy.get("WUServer") or ""))
                for line in update_log["tail"]
            ]
        if update_log:
            # local = UTC + offset, as the probe reports it for WindowsUpdate.log's times
            update_log["utc_offset_minutes"] = int(self.utc_offset.total_seconds() // 60)
        events = logs.get("windowsupdate_events") or {}
        if events.get("events") is not None:
            events["events"] = self._render_events(events["events"], now)
        return {
            "schema": CLIENT_FACTS,
            "host": self.name,
            "collected_at": iso_utc(now),
            "os": copy.deepcopy(self.state["os"]),
            "agent": copy.deepcopy(self.state["agent"]),
            "policy": policy,
            "au": {
                "AUState": au.get("AUState"),
                "LastWaitTimeout": registry_time(lwt) if lwt else None,
                "DetectionStartTime": registry_time(dst, self.utc_offset) if dst else None,
                "last_search_success": iso_utc(search) if search else None,
                "reboot_required": au.get("reboot_required"),
                # the Control Panel setting (same key as AUState; 1 = turned off)
                "AUOptions": au.get("AUOptions"),
            },
            "services": copy.deepcopy(self.state["services"]),
            "http": http,
            "logs": logs,
            "proxy": copy.deepcopy(self.state["proxy"]),
            "errors": [],
        }

    def _render_events(self, events: list[JsonDict], now: datetime) -> list[JsonDict]:
        """Operational-log events as the probe writes them: ISO UTC times, errors and
        warnings first, then the rest, each group newest first."""
        rendered = []
        for event in events:
            when = resolve_time(event.get("time"), now)
            rendered.append({**event, "time": iso_utc(when) if when else None})
        rendered.sort(key=lambda event: str(event.get("time") or ""), reverse=True)
        rendered.sort(key=lambda event: event.get("level") == "Information")
        return rendered

    def _render_log_line(self, line: str, now: datetime, wuserver: str) -> str:
        def stamp(match: re.Match[str]) -> str:
            moment = now + parse_offset(match.group(1)) + self.utc_offset
            return moment.strftime("%Y-%m-%d\t%H:%M:%S:") + f"{moment.microsecond // 1000:03d}"

        return _TAIL_TIME.sub(stamp, line).replace("{wuserver}", wuserver)

    def _fix_result(
        self, fix: str, changed: bool, before: JsonDict, after: JsonDict, log: list[str]
    ) -> JsonDict:
        return {"fix": fix, "changed": changed, "before": before, "after": after, "log": log}

    def _fix_set_wsus_policy(self, params: dict[str, Any]) -> JsonDict:
        wsus_url = params.get("wsus_url")
        status_url = params.get("status_url") or wsus_url
        if not isinstance(wsus_url, str) or not wsus_url.startswith(("http://", "https://")):
            raise ProbeFailure("fix_set_wsus_policy: params.wsus_url must be an http(s) URL.")
        keys = ("WUServer", "WUStatusServer", "UseWUServer", "NoAutoUpdate")
        before = {key: self._policy_value(key) for key in keys}
        policy = self.state["policy"]
        policy["WUServer"] = wsus_url
        policy["WUStatusServer"] = status_url
        policy["UseWUServer"] = 1
        policy["NoAutoUpdate"] = None
        after = {key: self._policy_value(key) for key in keys}
        log = [
            f"WUServer = {wsus_url}",
            f"WUStatusServer = {status_url}",
            "AU\\UseWUServer = 1",
            "AU\\NoAutoUpdate removed",
        ]
        return self._fix_result("client.set_wsus_policy", before != after, before, after, log)

    def _au_settings(self) -> JsonDict:
        return {
            "NoAutoUpdate": self._policy_value("NoAutoUpdate"),
            "policy AUOptions": self._policy_value("AUOptions"),
            "AUOptions": self.state["au"].get("AUOptions"),
            "wuauserv": copy.deepcopy(self.state["services"]["wuauserv"]),
        }

    def _fix_enable_automatic_updates(self, params: dict[str, Any]) -> JsonDict:
        """docs/catalogue.md client.enable_automatic_updates: policy NoAutoUpdate / AUOptions
        removed when 1, Control Panel AUOptions 1 -> 3, wuauserv restarted if it ran."""
        del params
        before = self._au_settings()
        policy, au = self.state["policy"], self.state["au"]
        log = []
        for key in ("NoAutoUpdate", "AUOptions"):
            if policy.get(key) == 1:
                policy[key] = None
                log.append(f"deleted policy AU\\{key} (was 1)")
        if au.get("AUOptions") == 1:
            au["AUOptions"] = 3
            log.append("set Auto Update\\AUOptions = 3 (was 1: off in Control Panel)")
        changed = self._au_settings() != before
        if changed and self.state["services"]["wuauserv"].get("state") == "Running":
            log += ["stopped wuauserv", "started wuauserv"]
        if not changed:
            log.append("nothing was set to disabled: no change")
        return self._fix_result(
            "client.enable_automatic_updates", changed, before, self._au_settings(), log
        )

    def _au_snapshot(self) -> JsonDict:
        now = self.clock.now()
        au = self.state["au"]
        lwt = resolve_time(au.get("LastWaitTimeout"), now)
        dst = resolve_time(au.get("DetectionStartTime"), now)
        return {
            "AUState": au.get("AUState"),
            "LastWaitTimeout": registry_time(lwt) if lwt else None,
            "DetectionStartTime": registry_time(dst, self.utc_offset) if dst else None,
            "wuauserv": copy.deepcopy(self.state["services"]["wuauserv"]),
        }

    def detection_delay(self) -> timedelta:
        """6-10 minutes (the seed's self-update time), fixed per host so tests can rely on
        an 11-minute advance."""
        return timedelta(minutes=6 + zlib.crc32(self.name.encode()) % 5)

    def _fix_reset_au_state(self, params: dict[str, Any]) -> JsonDict:
        del params
        now = self.clock.now()
        self._settle(now)
        before = self._au_snapshot()
        au = self.state["au"]
        # from here on the registry holds concrete times: later clock advances age them
        for key in ("DetectionStartTime", "last_search_success"):
            au[key] = resolve_time(au.get(key), now)
        self._lwt_before_reset = resolve_time(au.get("LastWaitTimeout"), now)
        au["AUState"] = 2
        au["LastWaitTimeout"] = None
        au["DetectionStartTime"] = None
        log = ["AUState = 2", "LastWaitTimeout deleted", "DetectionStartTime deleted"]
        service = self.state["services"]["wuauserv"]
        log.append("net stop wuauserv")
        if service.get("start_mode") == "Disabled":
            service["state"] = "Stopped"
            raise ProbeFailure(
                "net start wuauserv: The service cannot be started, either because it is "
                "disabled or because it has no enabled devices associated with it.",
                self._fix_result("client.reset_au_state", True, before, self._au_snapshot(), log),
            )
        service["state"] = "Running"
        log.append("net start wuauserv")
        delay = self.detection_delay()
        self.pending_detection_at = now + delay
        log.append(f"detection and self-update expected in about {delay.seconds // 60} minutes")
        return self._fix_result("client.reset_au_state", True, before, self._au_snapshot(), log)

    def _fix_restart_wuauserv(self, params: dict[str, Any]) -> JsonDict:
        del params
        service = self.state["services"]["wuauserv"]
        before = {"wuauserv": copy.deepcopy(service)}
        log = []
        if service.get("start_mode") == "Disabled":
            service["start_mode"] = "Auto"
            log.append("sc config wuauserv start= auto")
        log += ["net stop wuauserv", "net start wuauserv"]
        service["state"] = "Running"
        after = {"wuauserv": copy.deepcopy(service)}
        # a restart is a change even when the service was already running
        return self._fix_result("client.restart_wuauserv", True, before, after, log)
