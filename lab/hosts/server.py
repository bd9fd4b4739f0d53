"""A simulated WSUS (or SUS) server: IIS configuration, services, real W3C log files, a
WSUS inventory, and the HTTP listeners of its sites."""

from __future__ import annotations

import copy
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

from lab.clock import LabClock, iso_utc, parse_offset
from lab.hosts.base import ProbeFailure, ProbeHandler, SimulatedHost
from lab.hosts.fleet import FleetComputer, as_document_entry, as_rows
from lab.hosts.network import Network
from lab.hosts.values import JsonDict
from lab.iis.logread import read_incremental
from lab.iis.routing import Reply, route, site_on_port
from lab.iis.site import SiteListener, log_dir_for
from lab.iis.w3c import LogEntry, W3cLogWriter

SERVER_FACTS = "wsusbot.server_facts/1"
IIS_LOG = "wsusbot.iis_log/1"
WSUS_COMPUTERS = "wsusbot.wsus_computers/1"
DEFAULT_MAX_LOG_BYTES = 8 * 1024 * 1024
#: keys of the lab's server state that are simulation settings, not server facts
_LAB_ONLY_SITE_KEYS = ("content",)


def _page_number(value: Any, default: int) -> int:
    """A paging parameter as PowerShell's [int] cast takes it; absent or unusable: default."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return max(0, int(value))


def _as_string(value: Any) -> str:
    """PowerShell's ``[string]`` cast as the probe applies it: ``$null`` becomes ``''``."""
    return "" if value is None else str(value)


def nominal_ports(state: JsonDict) -> list[int]:
    """Every http port a site of ``state`` binds, plus 80 (clients always try it)."""
    ports = {80}
    for site in ((state.get("iis") or {}).get("sites") or {}).values():
        for binding in site.get("bindings") or []:
            if binding.get("protocol") == "http" and isinstance(binding.get("port"), int):
                ports.add(binding["port"])
    wsus_port = (state.get("wsus") or {}).get("port")
    if isinstance(wsus_port, int):
        ports.add(wsus_port)
    return sorted(ports)


class ServerHost(SimulatedHost):
    role = "server"

    def __init__(
        self,
        name: str,
        address: str,
        clock: LabClock,
        *,
        state: JsonDict,
        network: Network,
        log_root: Path,
        ports: dict[int, int],
        fleet: list[FleetComputer] | None = None,
        log_history: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(name, address, clock)
        self.state = state
        self.network = network
        self.log_root = log_root
        #: nominal port (80, 8530) -> the loopback port that really serves it
        self.ports = dict(ports)
        self.fleet = list(fleet or [])
        self.log_history = list(log_history or [])
        self._writers: dict[int, W3cLogWriter] = {}
        self._listeners: dict[int, SiteListener] = {}

    # -- addresses -------------------------------------------------------------------
    @property
    def kind(self) -> str:
        return str(self.state.get("kind", "wsus"))

    @property
    def client_version(self) -> str | None:
        value = self.state.get("client_version")
        return str(value) if value is not None else None

    def url_for(self, nominal_port: int) -> str:
        port = self.ports[nominal_port]
        return f"http://{self.address}" if port == 80 else f"http://{self.address}:{port}"

    @property
    def wsus_url(self) -> str:
        """What clients put in WUServer: WSUS's own port (a SUS box: its port-80 site)."""
        port = (self.state.get("wsus") or {}).get("port")
        return self.url_for(port if isinstance(port, int) and port in self.ports else 80)

    @property
    def selfupdate_url(self) -> str:
        return self.url_for(80)

    def route_port(self, url_port: int) -> tuple[int, int]:
        """A port in a URL (nominal 80/8530, or a real lab port) -> (nominal, real)."""
        if url_port in self.ports:
            return url_port, self.ports[url_port]
        for nominal, actual in self.ports.items():
            if actual == url_port:
                return nominal, actual
        return url_port, url_port

    # -- IIS ---------------------------------------------------------------------------
    def _sites(self) -> dict[str, JsonDict]:
        sites: dict[str, JsonDict] = (self.state.get("iis") or {}).get("sites") or {}
        return sites

    def _writer(self, site_id: int) -> W3cLogWriter:
        writer = self._writers.get(site_id)
        if writer is None:
            writer = W3cLogWriter(log_dir_for(self.log_root, site_id))
            self._writers[site_id] = writer
        return writer

    def site_log_dir(self, site: JsonDict) -> Path:
        return log_dir_for(self.log_root, int(site.get("id") or 0))

    def respond(self, nominal_port: int, method: str, path: str) -> Reply:
        with self.lock:
            return route(self.state, nominal_port, method, path)

    def _log_writer_for(self, nominal_port: int) -> W3cLogWriter | None:
        with self.lock:
            found = site_on_port(self.state, nominal_port)
            return self._writer(int(found[1].get("id") or 0)) if found else None

    def start(self) -> None:
        for site in self._sites().values():
            self._writer(int(site.get("id") or 0)).touch_day(self.clock.now())
        self._seed_log_history()
        for nominal, actual in self.ports.items():
            self._listeners[nominal] = SiteListener(
                address=self.address,
                port=actual,
                nominal_port=nominal,
                responder=self.respond,
                log_writer_for=self._log_writer_for,
                now=self.clock.now,
            )
        self.sync_listeners()

    def sync_listeners(self) -> None:
        """Listen exactly on the nominal ports a started site binds while W3SVC runs."""
        for nominal, listener in self._listeners.items():
            with self.lock:
                wanted = site_on_port(self.state, nominal) is not None
            listener.set_listening(wanted)

    def after_fix(self) -> None:
        # outside the host lock: stopping a listener joins handlers that take that lock
        self.sync_listeners()

    def stop(self) -> None:
        for listener in self._listeners.values():
            listener.stop()

    def _seed_log_history(self) -> None:
        now = self.clock.now()
        midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        by_site: dict[int, list[LogEntry]] = {}
        for item in self.log_history:
            port = int(item.get("port", 80))
            found = site_on_port(self.state, port)
            site = found[1] if found else next(iter(self._sites().values()), None)
            if site is None:
                continue
            start = now + parse_offset(str(item.get("at", "now-1h")))
            every = parse_offset("now+" + str(item.get("every", "1m")))
            clients = item.get("clients") or ["10.20.0.5"]
            for index in range(int(item.get("count", 1))):
                when = start + every * index
                if when > now:
                    break
                # recent history belongs in today's file, whatever time of day the run is
                if now - when < timedelta(hours=24):
                    when = max(when, midnight + timedelta(seconds=index))
                by_site.setdefault(int(site.get("id") or 0), []).append(
                    LogEntry(
                        when=when,
                        server_ip=self.address,
                        method=str(item.get("method", "GET")),
                        uri_stem=str(item["path"]),
                        uri_query=str(item.get("query", "")),
                        server_port=port,
                        username="",
                        client_ip=str(clients[index % len(clients)]),
                        user_agent=str(item.get("user_agent", "Windows-Update-Agent")),
                        status=int(item.get("status", 200)),
                        substatus=int(item.get("substatus", 0)),
                        win32_status=int(item.get("win32_status", 0)),
                        time_taken_ms=int(item.get("time_taken", 15)),
                    )
                )
        for site_id, entries in by_site.items():
            self._writer(site_id).append(sorted(entries, key=lambda e: e.when))

    # -- probes ------------------------------------------------------------------------
    def fact_probes(self) -> dict[str, tuple[str, ProbeHandler]]:
        return {
            "server_facts": (SERVER_FACTS, self._server_facts),
            "iis_log": (IIS_LOG, self._iis_log),
            "wsus_computers": (WSUS_COMPUTERS, self._wsus_computers),
        }

    def fix_probes(self) -> dict[str, ProbeHandler]:
        return {
            "fix_install_selfupdate_port80": self._fix_install_selfupdate,
            "fix_enable_anonymous_auth": self._fix_enable_anonymous_auth,
            "fix_start_services": self._fix_start_services,
            "fix_raise_wsuspool_memory": self._fix_raise_wsuspool_memory,
        }

    def _site_facts(self, name: str, site: JsonDict) -> JsonDict:
        sharepoint = {
            "present": False,
            "excluded_paths": [],
            "version": None,
            "managed_paths": None,
            **(site.get("sharepoint") or {}),
        }
        return {
            "name": name,
            "id": site.get("id"),
            "state": site.get("state"),
            "bindings": copy.deepcopy(site.get("bindings") or []),
            "log_dir": str(self.site_log_dir(site)),
            "anonymous_auth": site.get("anonymous_auth"),
            "vdirs": [
                {
                    "path": path,
                    "physical_path": vdir.get("physical_path"),
                    "exists": vdir.get("exists"),
                    "anonymous_auth": vdir.get("anonymous_auth"),
                }
                for path, vdir in (site.get("vdirs") or {}).items()
            ],
            "sharepoint": copy.deepcopy(sharepoint),
        }

    def _modern_iis(self) -> bool:
        """IIS 7+ (applicationHost.config); the probe reads pool limits only there."""
        version = str((self.state.get("iis") or {}).get("version") or "0")
        head = version.split(".", 1)[0]
        return head.isdigit() and int(head) >= 7

    def _pool_facts(self, name: str, pool_state: Any) -> JsonDict:
        settings = ((self.state.get("iis") or {}).get("app_pool_settings") or {}).get(name) or {}
        modern = self._modern_iis()
        return {
            "name": name,
            "state": pool_state,
            "private_memory_kb": settings.get("private_memory_kb") if modern else None,
            "queue_length": settings.get("queue_length") if modern else None,
        }

    def _server_facts(self, params: dict[str, Any]) -> JsonDict:
        del params
        iis = self.state.get("iis") or {}
        sites = sorted(self._sites().items(), key=lambda item: int(item[1].get("id") or 0))
        return {
            "schema": SERVER_FACTS,
            "host": self.name,
            "collected_at": iso_utc(self.clock.now()),
            "wsus": copy.deepcopy(self.state.get("wsus")),
            "iis": {
                "version": iis.get("version"),
                "sites": [self._site_facts(name, site) for name, site in sites],
                "app_pools": [
                    self._pool_facts(name, pool_state)
                    for name, pool_state in (iis.get("app_pools") or {}).items()
                ],
            },
            "services": copy.deepcopy(self.state.get("services")),
            "errors": [],
        }

    def default_log_dir(self) -> Path | None:
        """The port-80 site's logs; without one, the WSUS site's (where else to look)."""
        found = site_on_port(self.state, 80)
        if found is None:
            port = (self.state.get("wsus") or {}).get("port")
            found = site_on_port(self.state, port) if isinstance(port, int) else None
        return self.site_log_dir(found[1]) if found else None

    def _iis_log(self, params: dict[str, Any]) -> JsonDict:
        requested = params.get("log_dir")
        log_dir = Path(requested) if isinstance(requested, str) else self.default_log_dir()
        document: JsonDict = {
            "schema": IIS_LOG,
            "log_dir": str(log_dir) if log_dir else None,
            "files": [],
            "lines": [],
            "cursor": params.get("cursor"),
            "errors": [],
        }
        if log_dir is None:
            document["errors"].append(
                {"source": "iis_log", "message": "no started web site to read logs from"}
            )
            return document
        # the lab only reads its own log tree, whatever path a caller sends
        inside = log_dir.resolve().is_relative_to(self.log_root.resolve())
        if not inside or not log_dir.is_dir():
            document["errors"].append(
                {"source": "iis_log", "message": f"Cannot find path '{log_dir}'."}
            )
            return document
        cursor = params.get("cursor")
        read = read_incremental(
            log_dir,
            cursor if isinstance(cursor, dict) else None,
            int(params.get("max_bytes") or DEFAULT_MAX_LOG_BYTES),
        )
        document.update(files=read.files, lines=read.lines, cursor=read.cursor)
        return document

    def _wsus_computers(self, params: dict[str, Any]) -> JsonDict:
        """The inventory, as ``GetComputerTargets()`` lists it, optionally one page of it:
        params ``offset`` (default 0), ``page_size`` (default: every computer) and
        ``format`` (``"rows"``: the compact page). The document says how many computers
        there are (``total``) and where the next page starts (``next_offset``, null after
        the last). Keys come in the order the probe sets them (handlers/probes/
        wsus_computers.ps1; its writer then adds ``errors``), so the lab's stdout is the
        probe's byte for byte (:mod:`lab.hosts.psjson`)."""
        if self.kind != "wsus" or not (self.state.get("wsus") or {}).get("installed"):
            # the probe's catch around AdminProxy (the WSUS API is absent), with Windows
            # PowerShell 2.0's words for a type that no loaded assembly defines
            return {
                "schema": WSUS_COMPUTERS,
                "computers": None,
                "errors": [
                    {
                        "source": "wsus_computers",
                        "message": "Unable to find type "
                        "[Microsoft.UpdateServices.Administration.AdminProxy]: make sure "
                        "that the assembly containing this type is loaded.",
                    }
                ],
            }
        now = self.clock.now()
        reporting = [c for c in self.network.clients_of(self.name) if c.reports_to(self)]
        total = len(self.fleet) + len(reporting)
        offset = _page_number(params.get("offset"), 0)
        size = _page_number(params.get("page_size"), total)
        end = min(total, offset + max(1, size))
        computers = [as_document_entry(c, now) for c in self.fleet[offset:end]]
        for client in reporting[max(0, offset - len(self.fleet)) : max(0, end - len(self.fleet))]:
            synced = client.last_search_success(now)
            stamp = iso_utc(synced) if synced else None
            computers.append(
                {
                    "name": f"{client.name}.lab.local",
                    "ip": client.address,
                    "client_version": _as_string(client.agent_version()),
                    "os": _as_string(client.state["os"].get("caption")),
                    "last_sync_time": stamp,
                    "last_reported_status_time": stamp,
                    "last_sync_result": "Succeeded" if stamp else "Unknown",
                    "target_group": "Lab",
                }
            )
        document: JsonDict = {"schema": WSUS_COMPUTERS}
        if params.get("format") == "rows":
            document.update(as_rows(computers))
        else:
            document["computers"] = computers
        document.update(
            total=total, offset=offset, next_offset=end if end < total else None, errors=[]
        )
        return document

    # -- fixes -------------------------------------------------------------------------
    def _port80_site(self) -> tuple[str, JsonDict] | None:
        return site_on_port(self.state, 80)

    def _fix_install_selfupdate(self, params: dict[str, Any]) -> JsonDict:
        del params
        fix = "server.install_selfupdate_port80"
        wsus = self.state.get("wsus") or {}
        if not wsus.get("installed") or not wsus.get("selfupdate_script_present"):
            raise ProbeFailure(
                "cscript: InstallSelfupdateOnPort80.vbs was not found under the WSUS "
                "install directory.",
                {"fix": fix, "changed": False, "before": {}, "after": {}, "log": []},
            )
        found = self._port80_site()
        if found is None:
            raise ProbeFailure(
                "InstallSelfupdateOnPort80.vbs: no started web site is bound to port 80.",
                {"fix": fix, "changed": False, "before": {}, "after": {}, "log": []},
            )
        name, site = found
        vdirs = site.setdefault("vdirs", {})
        key = next((p for p in vdirs if p.strip("/").lower() == "selfupdate"), "/Selfupdate")
        before = {"site": name, "selfupdate_vdir": copy.deepcopy(vdirs.get(key))}
        current = vdirs.get(key)
        changed = not (isinstance(current, dict) and current.get("exists"))
        if changed:
            vdirs[key] = {
                "physical_path": f"{wsus.get('install_dir')}\\Selfupdate",
                "exists": True,
                "anonymous_auth": True,
            }
        after = {"site": name, "selfupdate_vdir": copy.deepcopy(vdirs.get(key))}
        log = [
            f'cscript "{wsus.get("install_dir")}\\setup\\InstallSelfupdateOnPort80.vbs"',
            f"Selfupdate virtual directory {'created on' if changed else 'already present on'} "
            f"'{name}'",
        ]
        return {"fix": fix, "changed": changed, "before": before, "after": after, "log": log}

    def _anonymous_targets(self) -> list[tuple[str, JsonDict]]:
        """(label, settings dict) for the site roots and the two vdirs the seed names."""
        targets: list[tuple[str, JsonDict]] = []
        seen: set[int] = set()
        for name, site in self._sites().items():
            vdirs = site.get("vdirs") or {}
            relevant = [
                p for p in vdirs if p.strip("/").lower() in {"selfupdate", "clientwebservice"}
            ]
            port80 = self._port80_site()
            if not relevant and not (port80 and port80[0] == name):
                continue
            if id(site) not in seen:
                seen.add(id(site))
                targets.append((f"{name}/", site))
            targets += [(f"{name}{p}", vdirs[p]) for p in relevant]
        return targets

    def _fix_enable_anonymous_auth(self, params: dict[str, Any]) -> JsonDict:
        del params
        targets = self._anonymous_targets()
        before = {label: bool(item.get("anonymous_auth")) for label, item in targets}
        log = []
        for label, item in targets:
            if not item.get("anonymous_auth"):
                item["anonymous_auth"] = True
                log.append(f"anonymousAuthentication enabled=true on '{label}'")
        after = {label: bool(item.get("anonymous_auth")) for label, item in targets}
        return {
            "fix": "server.enable_anonymous_auth",
            "changed": before != after,
            "before": before,
            "after": after,
            "log": log or ["anonymous authentication already enabled everywhere"],
        }

    def _fix_start_services(self, params: dict[str, Any]) -> JsonDict:
        del params
        services = self.state.setdefault("services", {})
        pools = (self.state.get("iis") or {}).get("app_pools") or {}
        before = {
            "services": copy.deepcopy(services),
            "app_pools": {"WsusPool": pools.get("WsusPool")},
        }
        log: list[str] = []
        disabled: list[str] = []
        for name in ("W3SVC", "WsusService"):
            service = services.get(name)
            if not isinstance(service, dict):
                continue
            if service.get("start_mode") == "Disabled":
                disabled.append(name)
                continue
            if service.get("state") != "Running":
                service["state"] = "Running"
                log.append(f"Start-Service {name}")
        if "WsusPool" in pools and pools["WsusPool"] != "Started":
            pools["WsusPool"] = "Started"
            log.append("appcmd start apppool WsusPool")
        after = {
            "services": copy.deepcopy(services),
            "app_pools": {"WsusPool": pools.get("WsusPool")},
        }
        result = {
            "fix": "server.start_services",
            "changed": before != after,
            "before": before,
            "after": after,
            "log": log or ["everything was already running"],
        }
        if disabled:
            raise ProbeFailure(
                f"Start-Service: cannot start {', '.join(disabled)}: the service is disabled.",
                result,
            )
        return result

    def _fix_raise_wsuspool_memory(self, params: dict[str, Any]) -> JsonDict:
        """privateMemory -> 7372800 KB (4 x the 1843200 KB WSUS default) unless 0 or higher,
        queueLength -> 2000 when lower, then a recycle (as fix_raise_wsuspool_memory.ps1)."""
        del params
        fix = "server.raise_wsuspool_memory"
        iis = self.state.setdefault("iis", {})
        empty = {"fix": fix, "changed": False, "before": {}, "after": {}, "log": []}
        if not self._modern_iis():
            raise ProbeFailure(
                f"{fix}: IIS {iis.get('version')} has no applicationHost.config privateMemory "
                "setting for WsusPool",
                empty,
            )
        pools = iis.get("app_pools") or {}
        if "WsusPool" not in pools:
            raise ProbeFailure(f"{fix}: IIS has no WsusPool application pool", empty)
        settings = iis.setdefault("app_pool_settings", {}).setdefault("WsusPool", {})

        def read() -> JsonDict:
            return {
                "state": pools.get("WsusPool"),
                "private_memory_kb": int(settings.get("private_memory_kb") or 0),
                "queue_length": int(settings.get("queue_length") or 1000),
            }

        before = read()
        log: list[str] = []
        current = before["private_memory_kb"]
        if current != 0 and current < 7_372_800:
            settings["private_memory_kb"] = 7_372_800
            log.append(f"WsusPool privateMemory {current} KB -> 7372800 KB")
        else:
            log.append(f"WsusPool privateMemory is {current} KB (0 = no limit); left alone")
        if before["queue_length"] < 2000:
            settings["queue_length"] = 2000
            log.append(f"WsusPool queueLength {before['queue_length']} -> 2000")
        after = read()
        changed = before != after
        if changed:
            log.append("applicationHost.config committed")
            log.append(
                "recycled application pool WsusPool"
                if pools.get("WsusPool") == "Started"
                else f"WsusPool is {pools.get('WsusPool')}; not recycled"
            )
        return {"fix": fix, "changed": changed, "before": before, "after": after, "log": log}
