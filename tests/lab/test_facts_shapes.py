"""Every scenario's hosts answer every facts probe with docs/catalogue.md's document shapes."""

from __future__ import annotations

from typing import Any

import pytest

from lab.hosts.client import ClientHost
from lab.scenarios import scenario_names
from tests.lab.facts_schema import (
    CLIENT_FACTS,
    IIS_LOG,
    SERVER_FACTS,
    WSUS_COMPUTERS,
    problems,
)

SCHEMAS = {
    "server_facts": SERVER_FACTS,
    "iis_log": IIS_LOG,
    "wsus_computers": WSUS_COMPUTERS,
}
SERVER_BUNDLE = {
    "probes": {
        "server_facts": {"timeout_ms": 2000},
        "iis_log": {"log_dir": None, "cursor": None, "max_bytes": 1_000_000},
        "wsus_computers": {},
    }
}


@pytest.mark.parametrize("scenario", scenario_names())
def test_every_host_answers_with_catalogue_shapes(scenario: str, start_estate: Any) -> None:
    estate = start_estate(scenario)
    for info in estate.hosts:
        host = estate.host(info.name)
        if isinstance(host, ClientHost):
            document = host.answer("client_facts", {"expected_wsus_url": None, "timeout_ms": 2000})
            assert problems(document, CLIENT_FACTS) == [], info.name
            assert document["host"] == info.name
            bundle = host.answer(
                "bundle", {"probes": {"client_facts": {"expected_wsus_url": None}}}
            )
            assert problems(bundle["documents"]["client_facts"], CLIENT_FACTS) == []
            continue
        for name, schema in SCHEMAS.items():
            params = SERVER_BUNDLE["probes"][name]
            assert problems(host.answer(name, params), schema) == [], (info.name, name)
        bundle = host.answer("bundle", SERVER_BUNDLE)
        assert bundle["schema"] == "wsusbot.bundle/1"
        for name, schema in SCHEMAS.items():
            assert problems(bundle["documents"][name], schema) == [], (info.name, name)


def test_schema_helper_reports_a_wrong_type() -> None:
    assert problems({"schema": "wsusbot.iis_log/1", "lines": [1]}, IIS_LOG) != []
    assert (
        problems(
            {
                "schema": "wsusbot.iis_log/1",
                "files": None,
                "lines": ["x"],
                "cursor": None,
                "errors": [],
            },
            IIS_LOG,
        )
        == []
    )


def test_modern_clients_answer_with_the_etw_notice_and_events(start_estate: Any) -> None:
    # Windows 10+: WindowsUpdate.log is only the notice, the operational log holds events;
    # XP/2003 have no operational log (docs/catalogue.md, client.update_log_errors)
    estate = start_estate("healthy")
    params = {"expected_wsus_url": None, "timeout_ms": 2000}
    win10 = estate.host("win10").answer("client_facts", params)["logs"]
    assert any("Get-WindowsUpdateLog" in line for line in win10["windowsupdate_log"]["tail"])
    assert win10["windowsupdate_events"]["available"] is True
    assert {event["id"] for event in win10["windowsupdate_events"]["events"]} == {26}
    assert all(event["time"].endswith("Z") for event in win10["windowsupdate_events"]["events"])
    xp = estate.host("xp01").answer("client_facts", params)["logs"]
    assert xp["windowsupdate_events"] == {
        "log": "Microsoft-Windows-WindowsUpdateClient/Operational",
        "available": False,
        "events": None,
    }
    assert xp["windowsupdate_log"]["utc_offset_minutes"] == 0
    failing = start_estate("modern_client_failing").host("win10").answer("client_facts", params)
    events = failing["logs"]["windowsupdate_events"]["events"]
    assert [event["level"] for event in events][:5] == ["Error"] * 5
    assert events[0]["time"] > events[1]["time"]
