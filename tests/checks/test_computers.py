"""checks.computers.classify, and the promise it exists for: ``server.stale_clients`` and
the digest's ``inventory_sightings`` never disagree about a computer."""

from __future__ import annotations

import re
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.digest.causes import Cause
from bot.digest.detect import inventory_sightings
from checks.computers import AgentState, SyncState, classify, classify_notable, computer_name
from checks.facts import WsusComputer
from checks.model import Status, Thresholds
from checks.server.stale_clients import evaluate as stale_clients
from tests.checks.factories import NOW, ctx, server

LIMITS = Thresholds()
CURRENT_AGENT = "7.6.7600.256"


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def ago(days: float) -> str:
    return iso(NOW - timedelta(days=days))


def pc(
    name: str | None, synced: str | None, version: str | None = CURRENT_AGENT, ip: str | None = None
) -> WsusComputer:
    return WsusComputer(name=name, ip=ip, client_version=version, last_sync_time=synced)


# ---------------------------------------------------------------- sync


@pytest.mark.parametrize(
    ("synced", "state", "age"),
    [
        (None, SyncState.NEVER, None),
        ("", SyncState.NEVER, None),
        ("   ", SyncState.NEVER, None),
        (ago(45), SyncState.STALE, 45.0),
        (ago(30.01), SyncState.STALE, 30.01),
        (ago(30), SyncState.BEHIND, 30.0),
        (ago(8), SyncState.BEHIND, 8.0),
        (ago(7.01), SyncState.BEHIND, 7.01),
        (ago(7), SyncState.CURRENT, 7.0),
        (ago(0.5), SyncState.CURRENT, 0.5),
        (ago(-1), SyncState.CURRENT, -1.0),
        ("2026-11-10T14:00:00+02:00", SyncState.BEHIND, 15.0),
        ("2026-11-24T12:00:00", SyncState.CURRENT, 1.0),
        ("yesterday", SyncState.UNREADABLE, None),
        ("2026-13-01T00:00:00Z", SyncState.UNREADABLE, None),
        ("24/11/2026 08:00", SyncState.UNREADABLE, None),
    ],
)
def test_sync_state(synced: str | None, state: SyncState, age: float | None) -> None:
    found = classify(pc("a", synced), NOW, LIMITS)
    assert found.sync is state
    if age is None:
        assert found.sync_age_days is None
    else:
        assert found.sync_age_days == pytest.approx(age)
    assert found.sync_stale is (state in (SyncState.NEVER, SyncState.STALE, SyncState.BEHIND))


def test_sync_thresholds_come_from_the_caller() -> None:
    strict = Thresholds(stale_warn_days=1, stale_fail_days=3)
    assert classify(pc("a", ago(2)), NOW, strict).sync is SyncState.BEHIND
    assert classify(pc("a", ago(4)), NOW, strict).sync is SyncState.STALE
    assert classify(pc("a", ago(2)), NOW, LIMITS).sync is SyncState.CURRENT


def test_a_naive_now_is_taken_as_utc() -> None:
    found = classify(pc("a", ago(8)), NOW.replace(tzinfo=None), LIMITS)
    assert found.sync is SyncState.BEHIND
    assert found.sync_age_days == pytest.approx(8.0)


# ---------------------------------------------------------------- agent


@pytest.mark.parametrize(
    ("version", "state", "shown"),
    [
        ("5.4.3790.1000", AgentState.SUS_ERA, "5.4.3790.1000"),
        (
            "5.4.3790.2180 (srv03_sp1_rtm.050324-1447)",
            AgentState.SUS_ERA,
            "5.4.3790.2180 (srv03_sp1_rtm.050324-1447)",
        ),
        ("5.7.9999.9999", AgentState.SUS_ERA, "5.7.9999.9999"),
        ("5.8", AgentState.OLD, "5.8"),
        ("5.8.0.2469", AgentState.OLD, "5.8.0.2469"),
        ("7.0.6000.374", AgentState.OLD, "7.0.6000.374"),
        ("7.6.7600.255", AgentState.OLD, "7.6.7600.255"),
        ("7.6.7600.256", AgentState.CURRENT, "7.6.7600.256"),
        (" 7.6.7600.256 ", AgentState.CURRENT, "7.6.7600.256"),
        ("10.0.19041.3636", AgentState.CURRENT, "10.0.19041.3636"),
        (None, AgentState.NOT_REPORTED, None),
        ("", AgentState.NOT_REPORTED, None),
        ("  ", AgentState.NOT_REPORTED, None),
        ("not.a.version", AgentState.UNREADABLE, "not.a.version"),
        ("7.6.7600.256-beta", AgentState.UNREADABLE, "7.6.7600.256-beta"),
    ],
)
def test_agent_state(version: str | None, state: AgentState, shown: str | None) -> None:
    found = classify(pc("a", ago(1), version), NOW, LIMITS)
    assert found.agent is state
    assert found.version == shown
    assert found.agent_old is (state in (AgentState.SUS_ERA, AgentState.OLD))


def test_agent_thresholds_come_from_the_caller() -> None:
    limits = Thresholds(min_client_version="7.6.7601.1", sus_era_below_version="7.0")
    assert classify(pc("a", ago(1), "7.6.7600.256"), NOW, limits).agent is AgentState.OLD
    assert classify(pc("a", ago(1), "6.9"), NOW, limits).agent is AgentState.SUS_ERA


def test_sync_and_agent_are_independent() -> None:
    found = classify(pc("a", "garbage", "5.4.3790.1000"), NOW, LIMITS)
    assert (found.sync, found.agent) == (SyncState.UNREADABLE, AgentState.SUS_ERA)
    found = classify(pc("a", None, "x.y"), NOW, LIMITS)
    assert (found.sync, found.agent) == (SyncState.NEVER, AgentState.UNREADABLE)


def test_names_fall_back_to_the_ip() -> None:
    assert classify(pc("pc1.corp", ago(1), ip="10.0.0.1"), NOW, LIMITS).name == "pc1.corp"
    assert classify(pc(None, ago(1), ip="10.0.0.1"), NOW, LIMITS).name == "10.0.0.1"
    assert computer_name(pc(None, ago(1))) == "(unnamed)"


# ---------------------------------------------------------------- the bulk classifier

#: stamps around each threshold, in the forms a probe or a hand-written file may use
EDGE_STAMPS = [
    *(ago(days) for days in (0, 1, 6.999, 7, 7.0001, 8, 29.99, 30, 30.01, 45, -3)),
    *(ago(days).replace("Z", "+00:00") for days in (7, 7.0001, 40)),
    "2026-11-18T12:00:00Z",  # exactly 7 days before NOW
    "2026-11-18T11:59:59Z",
    "2026-11-18T14:00:00+02:00",
    "2026-11-24T12:00:00",
    " 2026-11-24T12:00:00Z",
    "2026-11-24T12:00:00Z ",
    "2026-13-01T00:00:00Z",
    "0001-01-01T00:00:00+05:00",
    "yesterdayZ",
    "Z",
    "",
    None,
]
EDGE_VERSIONS = [CURRENT_AGENT, "7.0.6000.374", "5.4.3790.1000", None, "", "x.y", "10.0.19041.1"]


@pytest.mark.parametrize(
    "limits",
    [LIMITS, Thresholds(stale_warn_days=1, stale_fail_days=3), Thresholds(stale_warn_days=0)],
    ids=["defaults", "strict", "zero"],
)
def test_the_bulk_classifier_agrees_with_classify(limits: Thresholds) -> None:
    computers = [
        pc(f"pc{i}-{j}", synced, version, ip=f"10.0.{i}.{j}")
        for i, synced in enumerate(EDGE_STAMPS)
        for j, version in enumerate(EDGE_VERSIONS)
    ]
    expected = [
        (computer, state)
        for computer in computers
        if not (
            (state := classify(computer, NOW, limits)).sync is SyncState.CURRENT
            and state.agent is AgentState.CURRENT
        )
    ]
    found = list(classify_notable(computers, NOW, limits))
    assert found == expected
    # a naive clock is taken as UTC, as classify takes it
    assert list(classify_notable(computers, NOW.replace(tzinfo=None), limits)) == expected


# ---------------------------------------------------------------- check and digest agree

#: name -> (last sync, agent version); NOW is 2026-11-25 12:00 UTC
MIXED: dict[str, tuple[str | None, str | None]] = {
    "fresh": (ago(1), CURRENT_AGENT),
    "week-exactly": (ago(7), CURRENT_AGENT),
    "future": (ago(-2), CURRENT_AGENT),
    "behind": (ago(15), CURRENT_AGENT),
    "month-exactly": (ago(30), CURRENT_AGENT),
    "offset": ("2026-11-10T14:00:00+02:00", CURRENT_AGENT),
    "stale": (ago(90), CURRENT_AGENT),
    "never": (None, CURRENT_AGENT),
    "blank": ("", CURRENT_AGENT),
    "oldagent": (ago(1), "7.0.6000.374"),
    "sus": (ago(2), "5.4.3790.1000"),
    "stale-and-old": (ago(300), "7.0.6000.374"),
    "never-and-sus": (None, "5.4.3790.1000"),
    "noversion": (ago(1), None),
    "badtime": ("yesterday", CURRENT_AGENT),
    "badver": (ago(1), "not.a.version"),
    "badtime-old": ("yesterday", "7.0.6000.374"),
    "never-badver": (None, "x.y"),
    "behind-badver": (ago(10), "x.y"),
}
IP_ONLY = "10.0.0.99"


def mixed_computers() -> list[dict[str, Any]]:
    computers: list[dict[str, Any]] = [
        {"name": name, "client_version": version, "last_sync_time": synced}
        for name, (synced, version) in MIXED.items()
    ]
    computers.append(
        {"name": None, "ip": IP_ONLY, "client_version": CURRENT_AGENT, "last_sync_time": ago(40)}
    )
    return computers


def _labels(limits: Thresholds) -> dict[str, str]:
    """server.stale_clients' evidence labels -> what they mean."""
    return {
        "never synced": "stale",
        f"last sync over {limits.stale_fail_days} days ago": "stale",
        f"last sync {limits.stale_warn_days}-{limits.stale_fail_days} days ago": "stale",
        f"SUS-era agent (below {limits.sus_era_below_version})": "old",
        f"agent below {limits.min_client_version}": "old",
        "unreadable sync time or version": "unreadable",
    }


def listed(evidence: tuple[str, ...], limits: Thresholds) -> dict[str, set[str]]:
    """The names the check lists, per meaning (``stale`` / ``old`` / ``unreadable``)."""
    labels = _labels(limits)
    found: dict[str, set[str]] = {"stale": set(), "old": set(), "unreadable": set()}
    for line in evidence[1:]:
        label, _, rest = line.partition(": ")
        count, _, names = rest.partition(" — ")
        assert label in labels, line
        assert "more" not in names, "a bucket was cut short; keep the inventory small"
        parsed = [re.sub(r" \(\d+ d\)$", "", name) for name in names.split(", ")]
        assert len(parsed) == int(count), line
        found[labels[label]].update(parsed)
    return found


@pytest.mark.parametrize(
    "limits",
    [
        LIMITS,
        Thresholds(stale_warn_days=1, stale_fail_days=3),
        Thresholds(stale_warn_days=20, stale_fail_days=60, min_client_version="7.0.6000.374"),
        Thresholds(sus_era_below_version="7.1"),
    ],
    ids=["defaults", "strict-sync", "lenient", "strict-agent"],
)
def test_stale_clients_and_the_digest_agree(limits: Thresholds) -> None:
    computers = mixed_computers()
    facts = server(**{"wsus_computers.computers": computers})
    finding = stale_clients(facts, ctx(**asdict(limits)))
    assert finding.evidence[0] == f"{len(computers)} computers in the inventory"
    check = listed(finding.evidence, limits)

    assert facts.wsus_computers is not None
    assert facts.wsus_computers.computers is not None
    sightings = inventory_sightings(
        facts.wsus_computers.computers,
        server="wsus01",
        now=NOW,
        thresholds=limits,
        canonical=lambda name, ip: name or ip or "(unnamed)",
    )
    stale = [s.host for s in sightings if s.cause is Cause.STALE_SYNC]
    old = [s.host for s in sightings if s.cause is Cause.OLD_AGENT]
    assert {s.cause for s in sightings} <= {Cause.STALE_SYNC, Cause.OLD_AGENT}
    assert len(stale) == len(set(stale))
    assert len(old) == len(set(old))

    # every computer the check lists as stale / never / old is a sighting of that cause,
    # and every sighting is listed by the check
    assert set(stale) == check["stale"]
    assert set(old) == check["old"]

    # what cannot be read is listed apart and is never a sighting for that part
    states = {c.name: classify(c, NOW, limits) for c in facts.wsus_computers.computers}
    bad_sync = {n for n, s in states.items() if s.sync is SyncState.UNREADABLE}
    bad_agent = {n for n, s in states.items() if s.agent is AgentState.UNREADABLE}
    assert check["unreadable"] == bad_sync | bad_agent
    assert not bad_sync & set(stale)
    assert not bad_agent & set(old)
    # a computer whose only trouble is unreadable shows in neither list
    for name in ("badtime", "badver"):
        assert name in check["unreadable"]
        assert name not in check["stale"] | check["old"]
        assert all(s.host != name for s in sightings)

    # the verdict follows the same buckets
    if check["stale"] or check["old"]:
        assert finding.status in (Status.FAIL, Status.WARN)


def test_the_mixed_inventory_sorts_as_expected_with_defaults() -> None:
    computers = mixed_computers()
    facts = server(**{"wsus_computers.computers": computers})
    check = listed(stale_clients(facts, ctx()).evidence, LIMITS)
    assert check["stale"] == {
        "behind",
        "month-exactly",
        "offset",
        "stale",
        "never",
        "blank",
        "stale-and-old",
        "never-and-sus",
        "never-badver",
        "behind-badver",
        IP_ONLY,
    }
    assert check["old"] == {"oldagent", "sus", "stale-and-old", "never-and-sus", "badtime-old"}
    assert check["unreadable"] == {
        "badtime",
        "badver",
        "badtime-old",
        "never-badver",
        "behind-badver",
    }
    for name in ("fresh", "week-exactly", "future", "noversion"):
        assert name not in check["stale"] | check["old"] | check["unreadable"]


# ---------------------------------------------------------------- the lean inventory records


def test_inventory_entries_become_records_and_dump_back_unchanged() -> None:
    from checks.facts import COMPUTER_FIELDS, WSUS_COMPUTERS, dump, parse_document

    entries = [
        {
            "name": "pc1.corp",
            "ip": "10.0.0.1",
            "client_version": CURRENT_AGENT,
            "os": "Windows XP Professional",
            "last_sync_time": ago(1),
            "last_reported_status_time": ago(1),
            "last_sync_result": "Succeeded",
            "target_group": "Workstations",
            "newer_probe_field": {"kept": True},
        },
        {"name": "pc2.corp", "client_version": CURRENT_AGENT},
    ]
    document = parse_document({"schema": WSUS_COMPUTERS, "computers": entries})
    computers = document.computers  # type: ignore[attr-defined]
    assert computers[0].name == "pc1.corp"
    assert computers[0].extra == {"newer_probe_field": {"kept": True}}
    assert computers[1].extra is None
    assert computers[1].ip is None
    # repeated values are one string, not one per computer
    assert computers[0].client_version is computers[1].client_version
    dumped = dump(document)["computers"]
    assert dumped[0] == entries[0]
    assert dumped[1] == {**dict.fromkeys(COMPUTER_FIELDS), **entries[1]}


@pytest.mark.parametrize(
    ("computers", "message"),
    [
        ({"name": "x"}, "computers: expected a list of computers"),
        (["pc1"], "computers[0]: expected an object"),
        ([{"name": "ok"}, {"name": 5}], "computers[1]: field 'name' must be a string or null"),
        ([{"last_sync_time": ["2026"]}], "computers[0]: field 'last_sync_time'"),
    ],
)
def test_a_malformed_inventory_names_the_entry_and_field(computers: Any, message: str) -> None:
    from checks.errors import FactsError
    from checks.facts import WSUS_COMPUTERS, parse_document

    with pytest.raises(FactsError, match=re.escape(message)):
        parse_document({"schema": WSUS_COMPUTERS, "computers": computers})


def test_records_classify_like_any_computer() -> None:
    from checks.facts import read_computers

    [record] = read_computers(
        [{"name": "old", "client_version": "5.4.3790.1000", "last_sync_time": ago(45)}]
    )
    state = classify(record, NOW, LIMITS)
    assert (state.sync, state.agent) == (SyncState.STALE, AgentState.SUS_ERA)
    assert read_computers([record]) == [record]


# ---------------------------------------------------------------- compact pages (format rows)

ROW_COLUMNS = [
    "name",
    "ip",
    "client_version",
    "os",
    "last_sync_time",
    "last_reported_status_time",
    "last_sync_result",
    "target_group",
]
ROW_TABLES = {
    "client_version": [CURRENT_AGENT, "5.4.3790.1000"],
    "os": ["Windows XP Professional"],
    "last_sync_result": ["Succeeded", "Unknown"],
    "target_group": ["Workstations"],
}


def test_rows_become_the_same_records_as_objects() -> None:
    from checks.facts import read_computer_rows, read_computers

    rows: list[list[Any]] = [
        ["pc1.corp", "10.0.0.1", 0, 0, ago(1), ago(1), 0, 0],
        ["pc2.corp", None, 1, None, None, None, 1, None],
    ]
    objects = [
        {
            "name": "pc1.corp",
            "ip": "10.0.0.1",
            "client_version": CURRENT_AGENT,
            "os": "Windows XP Professional",
            "last_sync_time": ago(1),
            "last_reported_status_time": ago(1),
            "last_sync_result": "Succeeded",
            "target_group": "Workstations",
        },
        {
            "name": "pc2.corp",
            "ip": None,
            "client_version": "5.4.3790.1000",
            "os": None,
            "last_sync_time": None,
            "last_reported_status_time": None,
            "last_sync_result": "Unknown",
            "target_group": None,
        },
    ]
    found = read_computer_rows(ROW_COLUMNS, ROW_TABLES, rows)
    assert found == read_computers(objects)
    assert [c.as_json() for c in found] == objects
    assert read_computer_rows(ROW_COLUMNS, ROW_TABLES, []) == []


def test_rows_of_another_shape_are_read_by_their_header() -> None:
    from checks.facts import read_computer_rows

    columns = ["ip", "name", "newer_probe_field", "os"]
    [computer] = read_computer_rows(
        columns, {"os": ["Windows 7"]}, [["10.0.0.7", "pc7", {"kept": 1}, 0]]
    )
    assert (computer.name, computer.ip, computer.os) == ("pc7", "10.0.0.7", "Windows 7")
    assert computer.client_version is None
    assert computer.extra == {"newer_probe_field": {"kept": 1}}


def _row(**changes: Any) -> list[Any]:
    row: list[Any] = ["pc1", "10.0.0.1", 0, 0, ago(1), ago(1), 0, 0]
    for column, value in changes.items():
        row[ROW_COLUMNS.index(column)] = value
    return row


@pytest.mark.parametrize(
    ("columns", "tables", "rows", "message"),
    [
        ("name", ROW_TABLES, [], "columns: expected a list of column names"),
        (["name", "name"], {}, [], "columns: a column is named twice"),
        (ROW_COLUMNS, [], [], "tables: expected an object"),
        (ROW_COLUMNS, {"colour": []}, [], "tables: 'colour' is not one of the columns"),
        (ROW_COLUMNS, {"os": [1]}, [], "tables.os: expected a list of strings"),
        (ROW_COLUMNS, ROW_TABLES, {"a": 1}, "computers: expected a list of rows"),
        (ROW_COLUMNS, ROW_TABLES, [_row(), "pc2"], "computers[1]: expected a row of 8 values"),
        (ROW_COLUMNS, ROW_TABLES, [_row()[:7]], "computers[0]: expected a row of 8 values"),
        (ROW_COLUMNS, ROW_TABLES, [_row(name=5)], "computers[0]: field 'name' must be a string"),
        (
            ROW_COLUMNS,
            ROW_TABLES,
            [_row(), _row(last_sync_time=["2026"])],
            "computers[1]: field 'last_sync_time' must be a string",
        ),
        (ROW_COLUMNS, ROW_TABLES, [_row(os=1)], "computers[0]: field 'os' must be an index"),
        (ROW_COLUMNS, ROW_TABLES, [_row(os=-1)], "field 'os' must be an index into tables.os"),
        (ROW_COLUMNS, ROW_TABLES, [_row(os=True)], "field 'os' must be an index"),
        (ROW_COLUMNS, ROW_TABLES, [_row(client_version=1.0)], "'client_version' must be an index"),
        (ROW_COLUMNS, ROW_TABLES, [_row(os="Windows")], "field 'os' must be an index"),
        (["name", "os"], {"os": []}, [["pc", 0]], "computers[0]: field 'os' must be an index"),
        (["name"], {}, [[7]], "computers[0]: field 'name' must be a string"),
    ],
)
def test_a_malformed_page_names_the_row_and_column(
    columns: Any, tables: Any, rows: Any, message: str
) -> None:
    from checks.errors import FactsError
    from checks.facts import read_computer_rows

    with pytest.raises(FactsError, match=re.escape(message)):
        read_computer_rows(columns, tables, rows)
