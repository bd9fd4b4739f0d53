"""Fix probes change host state so the next facts (and the IIS sites) show the fix."""

from __future__ import annotations

import http.client
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest

from lab.hosts.base import ProbeFailure
from tests.lab.facts_schema import FIX_RESULT, problems


def get(url: str) -> int | str:
    """The bot's side of an HTTP probe: a status, or "refused"."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    try:
        connection.request("GET", parts.path)
        return connection.getresponse().status
    except ConnectionRefusedError:
        return "refused"
    finally:
        connection.close()


def registry(text: str) -> datetime:
    return datetime.strptime(text, "%Y.%m.%d %H:%M:%S").replace(tzinfo=UTC)


def iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def fix(host: Any, name: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    result: dict[str, Any] = host.answer(name, params or {})
    assert problems(result, FIX_RESULT) == []
    return result


def test_reset_au_state_then_detection_self_updates(start_estate: Any) -> None:
    estate = start_estate("detection_stalled")
    xp = estate.host("xp01")
    xp.state["agent"]["wuaueng_version"] = "7.0.6000.374"
    before = xp.answer("client_facts", {})
    assert before["au"]["LastWaitTimeout"] is not None

    result = fix(xp, "fix_reset_au_state")
    assert result["fix"] == "client.reset_au_state"
    assert result["changed"] is True
    assert result["before"]["LastWaitTimeout"] == before["au"]["LastWaitTimeout"]
    assert result["after"] == {
        "AUState": 2,
        "LastWaitTimeout": None,
        "DetectionStartTime": None,
        "wuauserv": {"state": "Running", "start_mode": "Auto"},
    }
    reset_at = estate.clock.now()
    estate.clock.advance(timedelta(minutes=5))
    pending = xp.answer("client_facts", {})
    assert pending["au"]["LastWaitTimeout"] is None
    assert pending["agent"]["wuaueng_version"] == "7.0.6000.374"

    estate.clock.advance(timedelta(minutes=6))
    after = xp.answer("client_facts", {})
    assert after["agent"]["wuaueng_version"] == "7.6.7600.256"
    searched = iso(after["au"]["last_search_success"])
    assert reset_at + timedelta(minutes=6) - timedelta(seconds=1) <= searched
    assert searched <= reset_at + timedelta(minutes=10, seconds=1)
    now = iso(after["collected_at"])
    waits_until = registry(after["au"]["LastWaitTimeout"])
    assert now < waits_until < now + timedelta(hours=3)
    assert after["au"]["DetectionStartTime"] is not None
    inventory = estate.host("wsus01").answer("wsus_computers", {})["computers"]
    assert [c["client_version"] for c in inventory if c["ip"] == xp.address] == ["7.6.7600.256"]


def test_reset_au_state_when_the_server_is_unreachable_pushes_24h(start_estate: Any) -> None:
    estate = start_estate("client_network_blocked")
    xp = estate.host("xp01")
    before = xp.answer("client_facts", {})
    assert {entry["error"] for entry in before["http"]} == {"timeout"}
    fix(xp, "fix_reset_au_state")
    estate.clock.advance(timedelta(minutes=11))
    after = xp.answer("client_facts", {})
    pushed = registry(after["au"]["LastWaitTimeout"]) - registry(before["au"]["LastWaitTimeout"])
    assert timedelta(hours=24) <= pushed <= timedelta(hours=24, minutes=1)
    searched_before = iso(before["au"]["last_search_success"])
    searched_after = iso(after["au"]["last_search_success"])
    assert abs(searched_after - searched_before) <= timedelta(seconds=2)
    assert after["agent"] == before["agent"]


def test_reset_au_state_on_a_disabled_service_fails_after_changing(start_estate: Any) -> None:
    xp = start_estate("healthy").host("xp01")
    xp.state["services"]["wuauserv"] = {"state": "Stopped", "start_mode": "Disabled"}
    with pytest.raises(ProbeFailure, match="disabled") as caught:
        xp.answer("fix_reset_au_state", {})
    assert caught.value.document is not None
    assert caught.value.document["changed"] is True
    assert xp.state["au"]["LastWaitTimeout"] is None


def test_set_wsus_policy(start_estate: Any) -> None:
    estate = start_estate("policy_missing")
    xp, server = estate.host("xp01"), estate.host("wsus01")
    assert xp.answer("client_facts", {})["policy"]["WUServer"] is None
    result = fix(xp, "fix_set_wsus_policy", {"wsus_url": server.wsus_url,
                                              "status_url": server.wsus_url})  # fmt: skip
    assert result["before"]["UseWUServer"] is None
    assert result["after"]["UseWUServer"] == 1
    policy = xp.answer("client_facts", {})["policy"]
    assert policy["WUServer"] == policy["WUStatusServer"] == server.wsus_url
    assert policy["UseWUServer"] == 1
    assert policy["NoAutoUpdate"] is None
    with pytest.raises(ProbeFailure, match="wsus_url"):
        xp.answer("fix_set_wsus_policy", {"wsus_url": "wsus01"})


def test_set_wsus_policy_leaves_legacy_mode(start_estate: Any) -> None:
    estate = start_estate("legacy_sus_server")
    xp, wsus = estate.host("xp01"), estate.host("wsus01")
    legacy = xp.answer("client_facts", {})["http"]
    assert [entry["status"] for entry in legacy] == [404, 200, 200, 200, 200]
    assert all(c["ip"] != xp.address for c in wsus.answer("wsus_computers", {})["computers"])
    fix(xp, "fix_set_wsus_policy", {"wsus_url": wsus.wsus_url, "status_url": wsus.wsus_url})
    assert [e["status"] for e in xp.answer("client_facts", {})["http"]] == [200, 200, 200, 200, 200]
    assert any(c["ip"] == xp.address for c in wsus.answer("wsus_computers", {})["computers"])


def test_enable_automatic_updates_turns_control_panel_back_on(start_estate: Any) -> None:
    xp = start_estate("au_disabled_control_panel").host("xp01")
    assert xp.answer("client_facts", {})["au"]["AUOptions"] == 1
    result = fix(xp, "fix_enable_automatic_updates")
    assert result["fix"] == "client.enable_automatic_updates"
    assert result["changed"] is True
    assert result["before"]["AUOptions"] == 1
    assert result["after"]["AUOptions"] == 3
    facts = xp.answer("client_facts", {})
    assert facts["au"]["AUOptions"] == 3
    # AUState 7 stays for client.reset_au_state
    assert facts["au"]["AUState"] == 7
    again = fix(xp, "fix_enable_automatic_updates")
    assert again["changed"] is False


def test_enable_automatic_updates_removes_the_policy_off(start_estate: Any) -> None:
    xp = start_estate("au_disabled").host("xp01")
    result = fix(xp, "fix_enable_automatic_updates")
    assert result["before"]["NoAutoUpdate"] == 1
    assert result["after"]["NoAutoUpdate"] is None
    policy = xp.answer("client_facts", {})["policy"]
    assert policy["NoAutoUpdate"] is None
    assert policy["AUOptions"] == 4


def test_restart_wuauserv(start_estate: Any) -> None:
    xp = start_estate("wuauserv_stopped").host("xp01")
    result = fix(xp, "fix_restart_wuauserv")
    assert result["before"]["wuauserv"]["state"] == "Stopped"
    assert xp.answer("client_facts", {})["services"]["wuauserv"]["state"] == "Running"


def test_install_selfupdate_port80(start_estate: Any) -> None:
    estate = start_estate("selfupdate_vdir_missing")
    server = estate.host("wsus01")
    assert get(server.selfupdate_url + "/selfupdate/wuident.cab") == 404
    result = fix(server, "fix_install_selfupdate_port80")
    assert result["changed"] is True
    assert result["before"]["selfupdate_vdir"] is None
    assert get(server.selfupdate_url + "/selfupdate/wuident.cab") == 200
    sites = server.answer("server_facts", {})["iis"]["sites"]
    port80 = next(s for s in sites if s["bindings"][0]["port"] == 80)
    assert [v["path"] for v in port80["vdirs"]] == ["/Selfupdate"]
    assert fix(server, "fix_install_selfupdate_port80")["changed"] is False


def test_install_selfupdate_without_a_port80_site_fails(start_estate: Any) -> None:
    server = start_estate("no_port80_site").host("wsus01")
    assert get(server.selfupdate_url + "/iuident.cab") == "refused"
    with pytest.raises(ProbeFailure, match="port 80"):
        server.answer("fix_install_selfupdate_port80", {})


def test_enable_anonymous_auth_leaves_sharepoint_forbidding(start_estate: Any) -> None:
    server = start_estate("sharepoint_blocks_selfupdate").host("wsus01")
    assert get(server.selfupdate_url + "/selfupdate/wuident.cab") == 401
    result = fix(server, "fix_enable_anonymous_auth")
    assert result["changed"] is True
    assert all(result["after"].values())
    sites = server.answer("server_facts", {})["iis"]["sites"]
    assert all(s["anonymous_auth"] for s in sites)
    assert all(v["anonymous_auth"] for s in sites for v in s["vdirs"])
    # SharePoint still intercepts: that part is the manual fix
    assert get(server.selfupdate_url + "/selfupdate/wuident.cab") == 403


def test_start_services_brings_the_sites_back(start_estate: Any) -> None:
    estate = start_estate("healthy")
    server = estate.host("wsus01")
    server.state["services"]["W3SVC"]["state"] = "Stopped"
    server.state["iis"]["app_pools"]["WsusPool"] = "Stopped"
    server.sync_listeners()
    assert get(server.selfupdate_url + "/iuident.cab") == "refused"
    result = fix(server, "fix_start_services")
    assert result["after"]["app_pools"] == {"WsusPool": "Started"}
    assert get(server.selfupdate_url + "/iuident.cab") == 200
    assert get(server.wsus_url + "/ClientWebService/client.asmx") == 200


def test_wsus_pool_stopped_answers_503(start_estate: Any) -> None:
    server = start_estate("healthy").host("wsus01")
    server.state["iis"]["app_pools"]["WsusPool"] = "Stopped"
    assert get(server.wsus_url + "/ClientWebService/client.asmx") == 503
    assert get(server.selfupdate_url + "/selfupdate/wuident.cab") == 200


def test_scenario_http_overrides_and_unknown_hosts(start_estate: Any) -> None:
    estate = start_estate("healthy")
    server, xp = estate.host("wsus01"), estate.host("xp01")
    server.state["http_overrides"] = {"/iuident.cab": {"status": 500, "delay_ms": 20}}
    assert get(server.selfupdate_url + "/iuident.cab") == 500
    statuses = [e["status"] for e in xp.answer("client_facts", {})["http"]]
    assert statuses == [200, 500, 200, 200, 200]
    fetched = xp.fetch("http://wsus99.example.com/iuident.cab", 1000)
    assert fetched["error"] == "dns"
    assert fetched["status"] is None
    by_name = xp.fetch("http://wsus01/selfupdate/wuident.cab", 1000)
    assert by_name["status"] == 200


def test_raise_wsuspool_memory_stops_the_503s(start_estate: Any) -> None:
    server = start_estate("wsuspool_recycling").host("wsus01")
    assert get(server.wsus_url + "/ClientWebService/client.asmx") == 503
    pool = next(
        p for p in server.answer("server_facts", {})["iis"]["app_pools"] if p["name"] == "WsusPool"
    )
    assert (pool["state"], pool["private_memory_kb"]) == ("Started", 1_843_200)
    result = fix(server, "fix_raise_wsuspool_memory")
    assert result["changed"] is True
    assert result["before"]["private_memory_kb"] == 1_843_200
    assert result["after"] == {
        "state": "Started",
        "private_memory_kb": 7_372_800,
        "queue_length": 2000,
    }
    assert get(server.wsus_url + "/ClientWebService/client.asmx") == 200
    # a second run changes nothing
    assert fix(server, "fix_raise_wsuspool_memory")["changed"] is False


def test_raise_wsuspool_memory_refuses_iis6(start_estate: Any) -> None:
    server = start_estate("sharepoint_blocks_selfupdate").host("wsus01")
    with pytest.raises(ProbeFailure, match=r"IIS 6\.0"):
        server.answer("fix_raise_wsuspool_memory", {})


def test_wss3_inclusions_leave_the_selfupdate_tree_alone(start_estate: Any) -> None:
    server = start_estate("sharepoint_wss3").host("wsus01")
    assert get(server.selfupdate_url + "/selfupdate/wuident.cab") == 200
    assert get(server.selfupdate_url + "/iuident.cab") == 200
    site = server.state["iis"]["sites"]["Default Web Site"]
    # a wildcard inclusion claiming a path IIS does not hold is answered by SharePoint
    site["sharepoint"]["managed_paths"].append({"path": "/Selfupdate", "kind": "wildcard"})
    site["vdirs"].pop("/Selfupdate")
    assert get(server.selfupdate_url + "/selfupdate/wuident.cab") == 403
