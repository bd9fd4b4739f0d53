"""A deterministic WSUS inventory of many computers (``stalled_fleet``).

Exactly ``stale_warn`` computers last synced 8-29 days ago, ``stale_fail`` 31-200 days
ago, ``never`` never synced and ``old_agent`` run an agent below 7.6.7600.256; the rest
synced within three days on a current agent. The same seed gives the same fleet.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from lab.clock import iso_utc
from lab.hosts.values import JsonDict

_OSES = (
    ("Windows XP Professional", "7.6.7600.256"),
    ("Windows Server 2003", "7.6.7600.256"),
    ("Windows 7 Enterprise", "7.6.7601.24436"),
    ("Windows 10 Enterprise", "10.0.19041.3636"),
)
_OLD_AGENTS = ("5.4.3790.1000", "5.8.0.2469", "7.0.6000.374", "7.2.6001.788")
_GROUPS = ("Workstations", "Servers", "Pilot", "Unassigned Computers")


@dataclass(frozen=True)
class FleetSpec:
    count: int
    seed: int = 1
    stale_warn: int = 0
    stale_fail: int = 0
    never: int = 0
    old_agent: int = 0
    domain: str = "fleet.lab.local"

    @classmethod
    def from_yaml(cls, data: dict[str, Any]) -> FleetSpec:
        spec = cls(**data)
        if (
            spec.stale_warn + spec.stale_fail + spec.never > spec.count
            or spec.old_agent > spec.count
        ):
            raise ValueError("fleet: the stale/never/old_agent subsets exceed count")
        return spec


@dataclass(frozen=True)
class FleetComputer:
    name: str
    ip: str
    client_version: str
    os: str
    #: None = never synced; else how long before "now" the last sync was
    synced_ago: timedelta | None
    target_group: str
    category: str


def generate(spec: FleetSpec) -> list[FleetComputer]:
    rng = random.Random(spec.seed)
    order = list(range(spec.count))
    rng.shuffle(order)
    category = ["fresh"] * spec.count
    cursor = 0
    for label, size in (
        ("stale_warn", spec.stale_warn),
        ("stale_fail", spec.stale_fail),
        ("never", spec.never),
    ):
        for index in order[cursor : cursor + size]:
            category[index] = label
        cursor += size
    old = set(rng.sample(range(spec.count), spec.old_agent))
    computers = []
    for index in range(spec.count):
        os_name, version = _OSES[rng.randrange(len(_OSES))]
        if index in old:
            version = _OLD_AGENTS[rng.randrange(len(_OLD_AGENTS))]
        label = category[index]
        if label == "fresh":
            ago: timedelta | None = timedelta(minutes=rng.randrange(10, 3 * 24 * 60))
        elif label == "stale_warn":
            ago = timedelta(days=rng.randrange(8, 30), minutes=rng.randrange(0, 1440))
        elif label == "stale_fail":
            ago = timedelta(days=rng.randrange(31, 200), minutes=rng.randrange(0, 1440))
        else:
            ago = None
        computers.append(
            FleetComputer(
                name=f"pc{index:05d}.{spec.domain}",
                ip=f"10.{20 + index // 65536}.{index // 256 % 256}.{index % 256}",
                client_version=version,
                os=os_name,
                synced_ago=ago,
                target_group=_GROUPS[rng.randrange(len(_GROUPS))],
                category=label if index not in old else f"{label}+old_agent",
            )
        )
    return computers


def as_document_entry(computer: FleetComputer, now: datetime) -> JsonDict:
    synced = iso_utc(now - computer.synced_ago) if computer.synced_ago is not None else None
    return {
        "name": computer.name,
        "ip": computer.ip,
        "client_version": computer.client_version,
        "os": computer.os,
        "last_sync_time": synced,
        "last_reported_status_time": synced,
        "last_sync_result": "Succeeded" if synced else "Unknown",
        "target_group": computer.target_group,
    }


#: the compact page's columns (``format: "rows"``), in the probe's order
COLUMNS = (
    "name",
    "ip",
    "client_version",
    "os",
    "last_sync_time",
    "last_reported_status_time",
    "last_sync_result",
    "target_group",
)
#: columns whose values repeat across a fleet: a row holds an index into the page's table
TABLED = ("client_version", "os", "last_sync_result", "target_group")


def as_rows(entries: list[JsonDict]) -> JsonDict:
    """``columns``, ``tables`` and ``rows`` of a compact page, as the probe builds them:
    each table lists its column's values in order of first sight on the page, and a row
    holds that index (null stays null)."""
    tables: dict[str, list[str]] = {column: [] for column in TABLED}
    known: dict[str, dict[str, int]] = {column: {} for column in TABLED}

    def index(column: str, value: str | None) -> int | None:
        if value is None:
            return None
        seen = known[column]
        found = seen.get(value)
        if found is None:
            found = seen[value] = len(tables[column])
            tables[column].append(value)
        return found

    rows = [
        [
            entry["name"],
            entry["ip"],
            index("client_version", entry["client_version"]),
            index("os", entry["os"]),
            entry["last_sync_time"],
            entry["last_reported_status_time"],
            index("last_sync_result", entry["last_sync_result"]),
            index("target_group", entry["target_group"]),
        ]
        for entry in entries
    ]
    return {"columns": list(COLUMNS), "tables": tables, "rows": rows}
