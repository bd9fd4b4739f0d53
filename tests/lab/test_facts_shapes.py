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
