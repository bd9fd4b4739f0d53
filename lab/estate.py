"""Start and stop a whole simulated estate: hosts on their own loopback addresses, their
WinRM endpoints, their IIS-like sites, and the bot configuration that points at them.

    with Estate.start("healthy") as estate:
        estate.write_config(path)              # a wsusbot config (docs/config.md)
        estate.host("xp01").probe_counts()
        estate.clock.advance(timedelta(minutes=11))
"""

from __future__ import annotations

import ipaddress
import math
import os
import secrets
import shutil
import socket
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from lab.clock import LabClock
from lab.hosts.client import ClientHost
from lab.hosts.fleet import generate
from lab.hosts.network import Network
from lab.hosts.server import ServerHost, nominal_ports
from lab.hosts.values import JsonDict, deep_merge
from lab.scenarios import Scenario, load_scenario
from lab.wsman import AuthPolicy, Faults, WsmanServer, write_ntlm_user_file

USERNAME = "LAB\\wsusbot"
_TRANSPORT_FAULTS = ("latency_ms", "refuse", "force_401", "fault_500", "malformed_xml")
_EXECUTOR_FAULTS = ("truncate_json", "hang")
_LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


@dataclass(frozen=True)
class HostInfo:
    name: str
    role: str
    address: str
    winrm_url: str
    #: servers: the port-80 site (``selfupdate_url``); clients: None
    http_url: str | None
    username: str


WINRM_PORT = 5985


class _Ports:
    """Free ports (bound then released, on the host's own address), a counter from a
    starting number, or "nominal": the real 80 / 8530 / 5985 (needs root or
    CAP_NET_BIND_SERVICE; each host has its own address, so they do not collide)."""

    def __init__(self, spec: str | int) -> None:
        self.nominal = spec == "nominal"
        if spec in ("free", "nominal"):
            self._next: int | None = None
        else:
            try:
                self._next = int(spec)
            except ValueError:
                raise ValueError(
                    f"ports must be 'free', 'nominal' or a port number, not {spec!r}"
                ) from None
            if not 1024 <= self._next <= 65535:
                raise ValueError(f"starting port {self._next} is outside 1024-65535")

    def take(self, address: str, nominal: int) -> int:
        if self.nominal:
            return nominal
        if self._next is None:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.bind((address, 0))
                port: int = probe.getsockname()[1]
                return port
        port = self._next
        self._next += 1
        return port


def _skipped(low: int, high: int) -> int:
    """How many addresses in [low, high] end in .0 or .255 (never given to a host)."""

    def count(residue: int) -> int:
        return (high - residue) // 256 - (low - 1 - residue) // 256

    return count(0) + count(255) if high >= low else 0


def _address(base: str, offset: int) -> str:
    """The ``offset``-th host address after ``base``, skipping every x.x.x.0 and x.x.x.255.

    All of 127.0.0.0/8 is loopback on Linux (16 M addresses); the .0 and .255 addresses
    are left out only because they read as network and broadcast addresses elsewhere.
    """
    start = int(ipaddress.ip_address(base))
    value = start + offset
    # each skipped address pushes the end further, which may pass one more: settle it
    while (settled := start + offset + _skipped(start + 1, value)) != value:
        value = settled
    address = ipaddress.ip_address(value)
    if (
        ipaddress.ip_address(base) not in _LOOPBACK
        or address not in _LOOPBACK
        or (value & 0xFF == 0xFF)
    ):
        raise ValueError(f"host address {address} is outside 127.0.0.0/8; pick a lower base")
    return str(address)


class _NtlmUsers:
    """The process's NTLM credential file (pyspnego reads the one NTLM_USER_FILE names).

    Estates alive at the same time in one process share one password: the acceptor takes
    the first line matching ``LAB\\wsusbot``, so two passwords for it cannot both work.
    Each estate keeps its own copy of the file in its workdir; the variable always names
    a live estate's copy and is restored once the last estate stops."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: list[Estate] = []
        self._before: str | None = None

    def join(self, estate: Estate) -> None:
        with self._lock:
            if not self._live:
                self._before = os.environ.get("NTLM_USER_FILE")
            password = self._live[0]._password if self._live else secrets.token_urlsafe(18)
            estate._password = password
            Estate._write_secret(estate.password_file, password)
            user_file = write_ntlm_user_file(
                estate.workdir / "ntlm_users", {estate.username: password}
            )
            os.environ["NTLM_USER_FILE"] = str(user_file)
            self._live.append(estate)

    def leave(self, estate: Estate) -> None:
        with self._lock:
            if estate not in self._live:
                return
            self._live.remove(estate)
            if self._live:
                os.environ["NTLM_USER_FILE"] = str(self._live[-1].workdir / "ntlm_users")
            elif self._before is None:
                os.environ.pop("NTLM_USER_FILE", None)
            else:
                os.environ["NTLM_USER_FILE"] = self._before


_NTLM_USERS = _NtlmUsers()


class Estate:
    """A running scenario. Build it with :meth:`start`; :meth:`stop` is idempotent."""

    def __init__(self, scenario: Scenario, workdir: Path, owns_workdir: bool) -> None:
        self.scenario = scenario
        self.workdir = workdir
        self._owns_workdir = owns_workdir
        self.clock = LabClock()
        self.network = Network()
        self.username = USERNAME
        self._password = ""
        self.password_file = workdir / "winrm_password"
        self._servers: dict[str, ServerHost] = {}
        self._clients: dict[str, ClientHost] = {}
        self._wsman: dict[str, WsmanServer] = {}
        self._stopped = False

    # -- lifecycle ---------------------------------------------------------------------
    @classmethod
    def start(
        cls,
        scenario: str | Scenario,
        *,
        workdir: Path | None = None,
        latency_ms: int = 0,
        base_address: str = "127.0.0.1",
        ports: str | int = "free",
    ) -> Estate:
        """Build and start ``scenario``: a scenario's name, or one built in code
        (``lab.scenarios.with_clients``)."""
        if isinstance(scenario, str):
            scenario = load_scenario(scenario)
        _address(base_address, 0)
        owns = workdir is None
        root = Path(tempfile.mkdtemp(prefix="wsusbot-lab-")) if workdir is None else workdir
        root.mkdir(parents=True, exist_ok=True)
        estate = cls(scenario, root, owns)
        try:
            estate._build(base_address, _Ports(ports), latency_ms)
        except BaseException:
            estate.stop()
            raise
        return estate

    def _build(self, base_address: str, ports: _Ports, latency_ms: int) -> None:
        _NTLM_USERS.join(self)
        for index, spec in enumerate(self.scenario.servers):
            address = _address(base_address, 10 + index)
            server = ServerHost(
                spec.name,
                address,
                self.clock,
                state=spec.state,
                network=self.network,
                log_root=self.workdir / spec.name / "LogFiles",
                ports={port: ports.take(address, port) for port in nominal_ports(spec.state)},
                fleet=generate(spec.fleet) if spec.fleet else None,
                log_history=list(spec.log_history),
            )
            self._servers[spec.name] = server
            self.network.add_server(server)
        for index, spec in enumerate(self.scenario.clients):
            client = ClientHost(
                spec.name,
                _address(base_address, 20 + index),
                self.clock,
                state=spec.state,
                server_name=spec.server,
                network=self.network,
                network_blocked=spec.network_blocked,
                utc_offset=spec.utc_offset,
            )
            self._clients[spec.name] = client
            self.network.add_client(client)
        for spec in self.scenario.hosts:
            host = self.host(spec.name)
            host.faults.fail_fixes = set(spec.fail_fixes)
            host.faults.truncate_json = bool(spec.faults.get("truncate_json"))
            host.faults.hang = bool(spec.faults.get("hang"))
            unknown = set(spec.faults) - {*_TRANSPORT_FAULTS, *_EXECUTOR_FAULTS}
            if unknown:
                raise ValueError(f"{spec.name}: unknown fault(s) {', '.join(sorted(unknown))}")
        for server in self._servers.values():
            server.start()
        for spec in self.scenario.hosts:
            host = self.host(spec.name)
            faults = Faults(
                latency_ms=float(spec.faults.get("latency_ms", latency_ms)),
                refuse=bool(spec.faults.get("refuse")),
                force_401=bool(spec.faults.get("force_401")),
                fault_500=bool(spec.faults.get("fault_500")),
                malformed_xml=bool(spec.faults.get("malformed_xml")),
            )
            wsman = WsmanServer(
                host,
                address=host.address,
                port=ports.take(host.address, WINRM_PORT),
                auth=AuthPolicy(ntlm=True, basic=False),
                faults=faults,
                machine_name=spec.name,
            )
            self._wsman[spec.name] = wsman
            host.wsman = wsman
            wsman.start()

    @staticmethod
    def _write_secret(path: Path, text: str) -> None:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(text)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        # each listener waits out its poll interval; stopping them side by side keeps a
        # test's teardown short
        stops = [w.stop for w in self._wsman.values()] + [s.stop for s in self._servers.values()]
        stoppers = [threading.Thread(target=stop, name="lab-stop") for stop in stops]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join()
        _NTLM_USERS.leave(self)
        if self._owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Estate:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what tests and the config see ---------------------------------------------------
    @property
    def hosts(self) -> list[HostInfo]:
        infos = []
        for spec in self.scenario.hosts:
            host = self.host(spec.name)
            infos.append(
                HostInfo(
                    name=spec.name,
                    role=spec.role,
                    address=host.address,
                    winrm_url=self._wsman[spec.name].url if spec.name in self._wsman else "",
                    http_url=host.selfupdate_url if isinstance(host, ServerHost) else None,
                    username=self.username,
                )
            )
        return infos

    def host(self, name: str) -> ServerHost | ClientHost:
        found = self._servers.get(name) or self._clients.get(name)
        if found is None:
            raise KeyError(
                f"no host {name!r} in scenario {self.scenario.name}; hosts: "
                + ", ".join(h.name for h in self.scenario.hosts)
            )
        return found

    def server(self, name: str) -> ServerHost:
        return self._servers[name]

    def client(self, name: str) -> ClientHost:
        return self._clients[name]

    def wsman(self, name: str) -> WsmanServer:
        return self._wsman[name]

    def set_faults(self, name: str, **faults: float | bool) -> None:
        """Change a host's faults while it runs: transport ones (latency_ms, refuse,
        force_401, fault_500, malformed_xml) and executor ones (truncate_json, hang)."""
        host = self.host(name)
        for fault, value in faults.items():
            if fault in _EXECUTOR_FAULTS:
                setattr(host.faults, fault, bool(value))
            elif fault in _TRANSPORT_FAULTS:
                setattr(self._wsman[name].faults, fault, value)
            else:
                raise ValueError(
                    f"unknown fault {fault!r}; known: "
                    + ", ".join([*_TRANSPORT_FAULTS, *_EXECUTOR_FAULTS])
                )

    def config_dict(self) -> JsonDict:
        """A wsusbot configuration (docs/config.md) for this estate; no secret inline."""
        servers = []
        for spec in self.scenario.servers:
            if not spec.managed:
                continue
            server = self._servers[spec.name]
            servers.append(
                {
                    "name": spec.name,
                    "address": server.address,
                    "wsus_url": server.wsus_url,
                    "selfupdate_url": server.selfupdate_url,
                    "winrm_url": self._wsman[spec.name].url,
                    "groups": ["lab"],
                }
            )
        clients = []
        for spec in self.scenario.clients:
            client = self._clients[spec.name]
            clients.append(
                {
                    "name": spec.name,
                    "address": client.address,
                    "server": spec.server,
                    "winrm_url": self._wsman[spec.name].url,
                    "groups": ["lab"],
                }
            )
        return {
            "store": {"url": f"sqlite:///{self.workdir / 'wsusbot.sqlite'}"},
            "winrm": {
                "transport": "ntlm",
                "username": self.username,
                "password_file": str(self.password_file),
                "operation_timeout_s": 10,
                "read_timeout_s": 15,
                "verify_tls": True,
            },
            "runner": {"concurrency": 16, "host_deadline_s": 30, "http_timeout_s": 5},
            "servers": servers,
            "clients": clients,
        }

    def write_config(self, path: Path, extra: dict[str, Any] | None = None) -> Path:
        config = deep_merge(self.config_dict(), extra or {})
        path.write_text(dumps_toml(config), encoding="utf-8")
        return path


# ---------------------------------------------------------------- a tiny TOML writer


def _toml_key(key: str) -> str:
    if key and all(c.isalnum() or c in "-_" for c in key):
        return key
    return _toml_string(key)


def _toml_string(text: str) -> str:
    out = ['"']
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _toml_value(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: TOML cannot hold {value}")
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v, where) for v in value) + "]"
    if isinstance(value, dict):
        items = ", ".join(
            f"{_toml_key(k)} = {_toml_value(v, where + '.' + k)}" for k, v in value.items()
        )
        return "{" + items + "}"
    raise ValueError(f"{where}: cannot write {type(value).__name__} as TOML")


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _emit_table(lines: list[str], path: list[str], table: dict[str, Any], header: str) -> None:
    if header:
        lines.append(header)
    nested: list[tuple[str, Any]] = []
    for key, value in table.items():
        if value is None:
            continue
        if isinstance(value, dict) or _is_table_array(value):
            nested.append((key, value))
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value, '.'.join([*path, key]))}")
    for key, value in nested:
        sub = [*path, key]
        dotted = ".".join(_toml_key(part) for part in sub)
        if isinstance(value, dict):
            lines.append("")
            _emit_table(lines, sub, value, f"[{dotted}]")
        else:
            for item in value:
                lines.append("")
                _emit_table(lines, sub, item, f"[[{dotted}]]")


def dumps_toml(document: dict[str, Any]) -> str:
    """TOML for the config shapes wsusbot uses (tables, arrays of tables, scalars, lists);
    ``None`` values are left out, as TOML has no null."""
    lines: list[str] = []
    _emit_table(lines, [], document, "")
    return "\n".join(lines).lstrip("\n") + "\n"
