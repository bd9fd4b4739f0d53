"""Scenario files: every catalogue name exists, loads, and states its expectations twice
(header comment for people, ``expect`` for tests) consistently."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from lab.scenarios import (
    ScenarioError,
    UnknownScenarioError,
    list_scenarios,
    load_scenario,
    scenario_names,
    scenario_text,
)

CATALOGUE_SCENARIOS = {
    "healthy", "no_port80_site", "selfupdate_vdir_missing", "sharepoint_blocks_selfupdate",
    "iis_log_errors", "sus_client", "legacy_sus_server", "policy_missing", "use_wuserver_off",
    "au_disabled", "wuauserv_stopped", "detection_stalled", "client_network_blocked",
    "winrm_down", "winrm_auth_fails", "stalled_fleet", "mixed",
    "modern_client_failing",
    "au_disabled_control_panel", "dual_scan",
    "sharepoint_wss3", "wsuspool_recycling",
}  # fmt: skip
CHECK_ID = re.compile(r"^(server|client)\.[a-z0-9_]+$")
HEADER = re.compile(r"^# (FAIL|WARN)(?: ([a-z0-9_]+))?: (.+)$")


def test_every_catalogue_scenario_exists() -> None:
    assert set(scenario_names()) >= CATALOGUE_SCENARIOS


def test_scenarios_are_package_data() -> None:
    folder = resources.files("lab.scenarios")
    assert folder.joinpath("healthy.yaml").is_file()


@pytest.mark.parametrize("name", sorted(CATALOGUE_SCENARIOS))
def test_header_comment_matches_expect(name: str) -> None:
    scenario = load_scenario(name)
    stated: dict[tuple[str, str], set[str]] = {}
    text = scenario_text(name)
    assert text.startswith("# Scenario "), "the file starts with its comment"
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        match = HEADER.match(line)
        if match is None or match.group(3).strip() == "none":
            continue
        assert match.group(2), f"{line!r} names no host"
        ids = {part.strip() for part in match.group(3).split(",")}
        stated.setdefault((match.group(1).lower(), match.group(2)), set()).update(ids)
    expected: dict[tuple[str, str], set[str]] = {}
    for host, expectation in scenario.expect.items():
        if expectation.fail:
            expected[("fail", host)] = set(expectation.fail)
        if expectation.warn:
            expected[("warn", host)] = set(expectation.warn)
    assert stated == expected
    for ids in expected.values():
        assert all(CHECK_ID.match(check) for check in ids)


def test_healthy_expects_nothing_and_has_three_client_oses() -> None:
    scenario = load_scenario("healthy")
    assert scenario.expect == {}
    assert [c.state["os"]["selfupdate_os"] for c in scenario.clients] == ["XP", "NetServer", None]


def test_unknown_scenario_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownScenarioError) as caught:
        load_scenario("healthy_typo")
    assert "healthy" in str(caught.value)
    assert "stalled_fleet" in str(caught.value)


def test_list_scenarios_describes_each() -> None:
    infos = {info.name: info for info in list_scenarios()}
    assert infos["legacy_sus_server"].hosts == ["wsus01", "sus01", "xp01"]
    assert all(info.description for info in infos.values())


def test_overrides_merge_onto_the_healthy_template() -> None:
    scenario = load_scenario("selfupdate_vdir_missing")
    site = scenario.servers[0].state["iis"]["sites"]["Default Web Site"]
    assert "/Selfupdate" not in site["vdirs"]
    assert site["bindings"][0]["port"] == 80


def test_bad_key_is_reported_with_its_place(monkeypatch: pytest.MonkeyPatch) -> None:
    import lab.scenarios as scenarios

    monkeypatch.setattr(scenarios, "scenario_text", lambda name: "clients: {x: {colour: red}}")
    with pytest.raises(ScenarioError, match=r"clients\.x: unknown key\(s\) colour"):
        scenarios.load_scenario("anything")
