"""Scenario files (``lab/scenarios/<name>.yaml``): which hosts exist, how each differs from
a healthy one, and which checks must FAIL / WARN on which host.

A file holds ``description``, ``expect`` (host -> ``{fail: [...], warn: [...]}``; hosts not
listed expect neither), ``servers`` and ``clients`` (name -> spec, see :class:`HostSpec`),
and optionally ``scale: {like, prefix}``: ``<name>+<N>`` is the scenario with N more
clients made like ``like`` (named ``<prefix>001``…), expected to fail the same way.
Host state is a deep merge of the spec's ``state`` onto the healthy template (``null``
deletes a key). Times are relative to the lab clock: ``now``, ``now-45d``, ``now+26h``,
``now-1d6h``; they are resolved when a probe answers.

Server keys: ``kind`` (wsus | sus), ``managed`` (false: left out of the bot's config),
``state`` (wsus, iis.sites.<name>.{bindings, anonymous_auth, vdirs./<path>, sharepoint,
content}, iis.app_pools, services), ``log_history`` (W3C lines to seed: ``{at, path,
status, count, every, clients, query, substatus, win32_status, port}``), ``fleet`` (a
generated inventory: ``{count, seed, stale_warn, stale_fail, never, old_agent}``),
``http_overrides`` (path prefix -> ``{status, delay_ms}``), ``faults``, ``fail_fixes``.
Client keys: ``os`` (xp | 2003 | win7 | win10), ``server``, ``state`` (agent, policy
— ``"@server"`` / ``"@server:<name>"`` mean that server's WSUS URL —, au, services, logs,
proxy), ``network_blocked`` (server -> timeout | refused, or port -> ...), ``utc_offset``
(``+9h``), ``faults`` (latency_ms, refuse, force_401, fault_500, malformed_xml,
truncate_json, hang), ``fail_fixes`` (fix probe names that answer "Access is denied.").
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from importlib import resources
from typing import Any

import yaml

from lab.clock import parse_offset
from lab.hosts.fleet import FleetSpec
from lab.hosts.templates import client_template, server_template
from lab.hosts.values import JsonDict, deep_merge

#: healthy traffic every WSUS server's port-80 log starts with (clients self-updating)
BASELINE_LOG_HISTORY: tuple[JsonDict, ...] = (
    {
        "at": "now-2d",
        "path": "/iuident.cab",
        "status": 200,
        "count": 4,
        "every": "3h",
        "clients": ["10.20.0.11", "10.20.0.12"],
    },
    {
        "at": "now-50m",
        "path": "/selfupdate/wuident.cab",
        "status": 200,
        "count": 3,
        "every": "1m",
        "clients": ["10.20.0.11", "10.20.0.12", "10.20.0.13"],
    },
    {
        "at": "now-45m",
        "path": "/iuident.cab",
        "status": 200,
        "count": 3,
        "every": "1m",
        "clients": ["10.20.0.11", "10.20.0.12", "10.20.0.13"],
    },
    {
        "at": "now-40m",
        "path": "/wutrack.bin",
        "query": "V=1&U=4f2e&C=AU&A=w&I=1",
        "status": 200,
        "count": 2,
        "every": "2m",
        "clients": ["10.20.0.12"],
    },
)

_SERVER_KEYS = {
    "kind",
    "managed",
    "state",
    "log_history",
    "fleet",
    "faults",
    "fail_fixes",
    "http_overrides",
}
_CLIENT_KEYS = {"os", "server", "state", "network_blocked", "utc_offset", "faults", "fail_fixes"}


class UnknownScenarioError(ValueError):
    """The scenario name is not one of the files in lab/scenarios."""


class ScenarioError(ValueError):
    """A scenario file is malformed; the message names the file and the key."""


@dataclass(frozen=True)
class Expectation:
    fail: tuple[str, ...] = ()
    warn: tuple[str, ...] = ()


@dataclass(frozen=True)
class HostSpec:
    name: str
    role: str
    state: JsonDict
    #: servers: "wsus" or "sus"
    kind: str = "wsus"
    #: False: a foreign box the bot's config does not list (the SUS server clients still use)
    managed: bool = True
    log_history: tuple[JsonDict, ...] = ()
    fleet: FleetSpec | None = None
    #: clients: their WSUS server's name
    server: str | None = None
    network_blocked: JsonDict = field(default_factory=dict)
    utc_offset: timedelta = timedelta(0)
    #: transport faults (latency_ms, refuse, force_401, fault_500, malformed_xml) and
    #: executor faults (truncate_json, hang)
    faults: JsonDict = field(default_factory=dict)
    fail_fixes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    servers: tuple[HostSpec, ...]
    clients: tuple[HostSpec, ...]
    expect: dict[str, Expectation]

    @property
    def hosts(self) -> tuple[HostSpec, ...]:
        return self.servers + self.clients


@dataclass(frozen=True)
class ScenarioInfo:
    name: str
    description: str
    hosts: list[str]


def scenario_names() -> list[str]:
    folder = resources.files(__name__)
    return sorted(
        entry.name[: -len(".yaml")] for entry in folder.iterdir() if entry.name.endswith(".yaml")
    )


def scenario_text(name: str) -> str:
    names = scenario_names()
    if name not in names:
        raise UnknownScenarioError(
            f"unknown lab scenario {name[:80]!r}; valid scenarios: {', '.join(names)}"
        )
    return resources.files(__name__).joinpath(f"{name}.yaml").read_text(encoding="utf-8")


def _mapping(value: Any, where: str) -> JsonDict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ScenarioError(f"{where} must be a mapping, got {type(value).__name__}")
    return value


def _check_keys(spec: JsonDict, allowed: set[str], where: str) -> None:
    unknown = set(spec) - allowed
    if unknown:
        raise ScenarioError(
            f"{where}: unknown key(s) {', '.join(sorted(unknown))}; allowed: "
            + ", ".join(sorted(allowed))
        )


def _server(name: str, spec: JsonDict, where: str) -> HostSpec:
    _check_keys(spec, _SERVER_KEYS, where)
    kind = str(spec.get("kind", "wsus"))
    state = deep_merge(server_template(kind), _mapping(spec.get("state"), f"{where}.state"))
    if spec.get("http_overrides"):
        state["http_overrides"] = _mapping(spec["http_overrides"], f"{where}.http_overrides")
    history = list(BASELINE_LOG_HISTORY) if kind == "wsus" else []
    history += list(spec.get("log_history") or [])
    fleet = spec.get("fleet")
    return HostSpec(
        name=name,
        role="server",
        state=state,
        kind=kind,
        managed=bool(spec.get("managed", True)),
        log_history=tuple(history),
        fleet=FleetSpec.from_yaml(_mapping(fleet, f"{where}.fleet")) if fleet else None,
        faults=_mapping(spec.get("faults"), f"{where}.faults"),
        fail_fixes=tuple(spec.get("fail_fixes") or ()),
    )


def _client(name: str, spec: JsonDict, default_server: str | None, where: str) -> HostSpec:
    _check_keys(spec, _CLIENT_KEYS, where)
    state = deep_merge(
        client_template(str(spec.get("os", "xp"))), _mapping(spec.get("state"), f"{where}.state")
    )
    offset = spec.get("utc_offset")
    return HostSpec(
        name=name,
        role="client",
        state=state,
        server=str(spec.get("server") or default_server or "") or None,
        network_blocked=_mapping(spec.get("network_blocked"), f"{where}.network_blocked"),
        utc_offset=parse_offset(f"now{offset}") if offset else timedelta(0),
        faults=_mapping(spec.get("faults"), f"{where}.faults"),
        fail_fixes=tuple(spec.get("fail_fixes") or ()),
    )


#: the most copies ``<scenario>+<N>`` adds (each is one more WS-Management listener)
MAX_COPIES = 200


def with_clients(base: str, count: int, *, name: str | None = None) -> Scenario:
    """``base`` with ``count`` clients made from its own clients in turn (``healthy``: its
    XP, 2003 and Windows 10 clients), named ``c0000``…, and no expectations: the fleets of
    the benchmarks and the fan-out tests (``<scenario>+<N>`` copies one client, at most
    MAX_COPIES)."""
    scenario = _load(base)
    templates = scenario.clients
    if not templates:
        raise ScenarioError(f"{base} has no client to make a fleet from")
    width = max(4, len(str(count - 1)))
    clients = tuple(
        replace(templates[i % len(templates)], name=f"c{i:0{width}d}") for i in range(count)
    )
    return replace(scenario, name=name or f"{base}_{count}", clients=clients, expect={})


def load_scenario(name: str) -> Scenario:
    """A scenario file; ``<name>+<N>`` is that scenario with N more clients made like its
    ``scale.like`` client (named ``<scale.prefix>001``…), with the same expectation."""
    base, plus, count = name.partition("+")
    if plus:
        return _scaled(base, count)
    return _load(name)


def _scaled(base: str, count: str) -> Scenario:
    where = f"lab/scenarios/{base}.yaml"
    if not count.isdigit() or not 1 <= int(count) <= MAX_COPIES:
        raise ScenarioError(f"{base}+{count[:10]}: the count is 1..{MAX_COPIES}")
    scenario = _load(base)
    scale = _mapping(yaml.safe_load(scenario_text(base)), where).get("scale")
    if not isinstance(scale, dict) or "like" not in scale or "prefix" not in scale:
        raise ScenarioError(f"{where} has no scale: {{like, prefix}}, so it cannot be scaled")
    like = next((c for c in scenario.clients if c.name == scale["like"]), None)
    if like is None:
        raise ScenarioError(f"{where}: scale.like names unknown client {scale['like']!r}")
    copies = tuple(
        replace(like, name=f"{scale['prefix']}{i:03d}") for i in range(1, int(count) + 1)
    )
    expect = dict(scenario.expect)
    if like.name in expect:
        expect.update({c.name: expect[like.name] for c in copies})
    return replace(
        scenario, name=f"{base}+{count}", clients=scenario.clients + copies, expect=expect
    )


def _load(name: str) -> Scenario:
    where = f"lab/scenarios/{name}.yaml"
    data = _mapping(yaml.safe_load(scenario_text(name)), where)
    _check_keys(data, {"description", "expect", "servers", "clients", "scale"}, where)
    servers = [
        _server(host, _mapping(spec, f"{where}: servers.{host}"), f"{where}: servers.{host}")
        for host, spec in _mapping(data.get("servers"), f"{where}: servers").items()
    ]
    default_server = next((s.name for s in servers if s.managed), None)
    clients = [
        _client(
            host,
            _mapping(spec, f"{where}: clients.{host}"),
            default_server,
            f"{where}: clients.{host}",
        )
        for host, spec in _mapping(data.get("clients"), f"{where}: clients").items()
    ]
    names = [h.name for h in [*servers, *clients]]
    expect: dict[str, Expectation] = {}
    for host, item in _mapping(data.get("expect"), f"{where}: expect").items():
        if host not in names:
            raise ScenarioError(f"{where}: expect names unknown host {host!r}")
        item = _mapping(item, f"{where}: expect.{host}")
        expect[host] = Expectation(tuple(item.get("fail") or ()), tuple(item.get("warn") or ()))
    for client in clients:
        if client.server not in {s.name for s in servers}:
            raise ScenarioError(
                f"{where}: client {client.name} names unknown server {client.server!r}"
            )
    return Scenario(
        name=name,
        description=str(data.get("description", "")).strip(),
        servers=tuple(servers),
        clients=tuple(clients),
        expect=expect,
    )


def list_scenarios() -> list[ScenarioInfo]:
    infos = []
    for name in scenario_names():
        scenario = load_scenario(name)
        infos.append(ScenarioInfo(name, scenario.description, [h.name for h in scenario.hosts]))
    return infos
