"""A whole estate: stock pywinrm over NTLM runs probes against it; config; clean stop."""

from __future__ import annotations

import base64
import json
import os
import socket
import stat
import threading
import tomllib
from pathlib import Path
from typing import Any

import pytest
import requests
import winrm
from winrm.exceptions import InvalidCredentialsError
from winrm.protocol import Protocol

from lab.estate import Estate, dumps_toml
from lab.scenarios import UnknownScenarioError
from tests.lab.conftest import STAGER, probe_script


@pytest.fixture(autouse=True)
def _no_ca_bundle_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # pywinrm warns (an error here) when it picks the CA bundle up from the environment
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


def session(estate: Estate, name: str, password: str | None = None) -> winrm.Session:
    info = next(h for h in estate.hosts if h.name == name)
    secret = password if password is not None else estate.password_file.read_text()
    return winrm.Session(
        info.winrm_url,
        auth=(info.username, secret),
        transport="ntlm",
        operation_timeout_sec=5,
        read_timeout_sec=10,
    )


def test_run_ps_client_facts_over_ntlm(start_estate: Any) -> None:
    estate = start_estate("healthy")
    reply = session(estate, "xp01").run_ps(probe_script("client_facts", {"timeout_ms": 2000}))
    assert reply.status_code == 0
    document = json.loads(reply.std_out)
    assert document["schema"] == "wsusbot.client_facts/1"
    assert document["host"] == "xp01"
    assert [entry["status"] for entry in document["http"]] == [200, 200, 200, 200, 200]
    assert estate.host("xp01").probe_counts() == {"client_facts": 1}
    assert estate.wsman("xp01").stats() is not None


def test_stager_and_stdin_over_winrm(start_estate: Any) -> None:
    estate = start_estate("healthy")
    info = next(h for h in estate.hosts if h.name == "wsus01")
    protocol = Protocol(
        info.winrm_url,
        transport="ntlm",
        username=info.username,
        password=estate.password_file.read_text(),
        operation_timeout_sec=5,
        read_timeout_sec=10,
    )
    bundle = {"probes": {"server_facts": {}, "iis_log": {"max_bytes": 100_000},
                         "wsus_computers": {}}}  # fmt: skip
    encoded = base64.b64encode(STAGER.encode("utf-16-le")).decode()
    shell = protocol.open_shell()
    try:
        command = protocol.run_command(
            shell, "powershell.exe", ["-NoProfile", "-NonInteractive", "-EncodedCommand", encoded]
        )
        protocol.send_command_input(
            shell, command, probe_script("bundle", bundle).encode("ascii"), end=True
        )
        stdout, stderr, code = protocol.get_command_output(shell, command)
        protocol.cleanup_command(shell, command)
    finally:
        protocol.close_shell(shell)
    assert code == 0, stderr
    documents = json.loads(stdout)["documents"]
    assert set(documents) == {"server_facts", "iis_log", "wsus_computers"}
    assert estate.host("wsus01").probe_counts()["bundle"] == 1


def test_wrong_password_and_auth_fault(start_estate: Any) -> None:
    estate = start_estate("winrm_auth_fails")
    with pytest.raises(InvalidCredentialsError):
        session(estate, "wsus01", password="not-the-password").run_ps(probe_script("x", {}))
    with pytest.raises(InvalidCredentialsError):
        session(estate, "xp01").run_ps(probe_script("client_facts", {}))
    assert session(estate, "wsus01").run_ps(probe_script("server_facts", {})).status_code == 0


def test_winrm_down_refuses_and_can_come_back(start_estate: Any) -> None:
    estate = start_estate("winrm_down")
    with pytest.raises(requests.exceptions.ConnectionError):
        session(estate, "xp01").run_ps(probe_script("client_facts", {}))
    estate.host("xp01").wsman.faults.refuse = False
    assert session(estate, "xp01").run_ps(probe_script("client_facts", {})).status_code == 0


def test_unknown_probe_over_winrm_is_a_clean_powershell_error(start_estate: Any) -> None:
    estate = start_estate("healthy")
    reply = session(estate, "xp01").run_ps(probe_script("format_disk", {}))
    assert reply.status_code == 1
    assert b"format_disk" in reply.std_err
    assert not reply.std_err.startswith(b"#< CLIXML")  # pywinrm cleaned the CLIXML


def test_stop_releases_threads_and_ports(tmp_path: Path) -> None:
    before = set(threading.enumerate())
    estate = Estate.start("legacy_sus_server", workdir=tmp_path / "estate")
    session(estate, "xp01").run_ps(probe_script("client_facts", {}))
    bound = []
    for info in estate.hosts:
        bound.append((info.address, int(info.winrm_url.rsplit(":", 1)[1].split("/")[0])))
        host = estate.host(info.name)
        for port in getattr(host, "ports", {}).values():
            bound.append((info.address, port))
    estate.stop()
    estate.stop()  # idempotent
    assert set(threading.enumerate()) <= before
    for address, port in bound:
        # nothing listens any more: a new server can take the port (TIME_WAIT allowed)
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((address, port))
            probe.listen()


def test_addresses_ports_and_latency(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        start = probe.getsockname()[1]
    if start > 60000:
        start = 40000
    with Estate.start(
        "healthy",
        workdir=tmp_path / "e",
        base_address="127.0.1.0",
        ports=start,
        latency_ms=7,
    ) as estate:
        addresses = {h.name: h.address for h in estate.hosts}
        assert addresses == {
            "wsus01": "127.0.1.10",
            "xp01": "127.0.1.20",
            "srv03": "127.0.1.21",
            "win10": "127.0.1.22",
        }
        ports = sorted(int(h.winrm_url.rsplit(":", 1)[1].split("/")[0]) for h in estate.hosts)
        assert all(start <= port < start + 20 for port in ports)
        assert estate.host("xp01").wsman.faults.latency_ms == 7
    with pytest.raises(ValueError, match=r"127\.0\.0\.0/8"):
        Estate.start("healthy", workdir=tmp_path / "f", base_address="10.0.0.1")


def test_config_round_trips_through_tomllib(start_estate: Any, tmp_path: Path) -> None:
    estate = start_estate("legacy_sus_server")
    path = estate.write_config(
        tmp_path / "wsusbot.toml",
        extra={"slack": {"api_url": "http://127.0.0.1:1/api/", "channels": ["C1"]},
               "winrm": {"read_timeout_s": 12}},
    )  # fmt: skip
    text = path.read_text()
    config = tomllib.loads(text)
    assert config["winrm"]["transport"] == "ntlm"
    assert config["winrm"]["username"] == "LAB\\wsusbot"
    assert config["winrm"]["read_timeout_s"] == 12
    assert config["slack"]["channels"] == ["C1"]
    assert config["store"]["url"].startswith("sqlite:///")
    assert [s["name"] for s in config["servers"]] == ["wsus01"]  # sus01 is not managed
    wsus = estate.host("wsus01")
    assert config["servers"][0]["wsus_url"] == wsus.wsus_url
    assert config["servers"][0]["selfupdate_url"] == wsus.selfupdate_url
    assert config["clients"] == [
        {
            "name": "xp01",
            "address": estate.host("xp01").address,
            "server": "wsus01",
            "winrm_url": estate.wsman("xp01").url,
            "groups": ["lab"],
        }
    ]
    password_file = Path(config["winrm"]["password_file"])
    password = password_file.read_text()
    assert password
    assert password not in text
    assert stat.S_IMODE(os.stat(password_file).st_mode) == 0o600


def test_toml_writer_escapes() -> None:
    document = {"a": 'quote " back \\ tab \t nl \n', "t": {"x y": [1, 2.5, True]},
                "arr": [{"k": "v"}, {"k": "w", "sub": {"z": 1}}], "skip": None}  # fmt: skip
    assert tomllib.loads(dumps_toml(document)) == {
        "a": document["a"],
        "t": {"x y": [1, 2.5, True]},
        "arr": [{"k": "v"}, {"k": "w", "sub": {"z": 1}}],
    }


def test_unknown_scenario() -> None:
    with pytest.raises(UnknownScenarioError, match=r"valid scenarios: .*healthy"):
        Estate.start("nope")


def test_stalled_fleet_inventory_is_deterministic(start_estate: Any) -> None:
    estate = start_estate("stalled_fleet")
    computers = estate.host("wsus01").answer("wsus_computers", {})["computers"]
    fleet = [c for c in computers if c["name"].startswith("pc")]
    assert len(fleet) == 1200
    assert sum(c["last_sync_time"] is None for c in fleet) == 24
    old = [c for c in fleet if tuple(map(int, c["client_version"].split("."))) < (7, 6, 7600, 256)]
    assert len(old) == 48
    again = start_estate("stalled_fleet").host("wsus01").answer("wsus_computers", {})
    assert [c["name"] for c in again["computers"]] == [c["name"] for c in computers]
    assert [c["client_version"] for c in again["computers"]] == [
        c["client_version"] for c in computers
    ]


def test_inventory_pages_cover_the_whole_inventory_once(start_estate: Any) -> None:
    # the lab pages as the probe does (params offset, page_size); unpaged is every computer
    host = start_estate("stalled_fleet").host("wsus01")
    whole = host.answer("wsus_computers", {})
    assert (whole["total"], whole["offset"], whole["next_offset"]) == (1202, 0, None)
    names: list[str] = []
    offset: int | None = 0
    starts = []
    while offset is not None:
        page = host.answer("wsus_computers", {"offset": offset, "page_size": 500})
        assert page["total"] == 1202
        starts.append(page["offset"])
        names += [c["name"] for c in page["computers"]]
        offset = page["next_offset"]
    assert starts == [0, 500, 1000]
    # the simulated clients come last, on the last page, as on the unpaged list
    assert names == [c["name"] for c in whole["computers"]]
    assert names[-2:] == ["fleet01.lab.local", "fleet02.lab.local"]
    beyond = host.answer("wsus_computers", {"offset": 5000, "page_size": 500})
    assert (beyond["computers"], beyond["next_offset"]) == ([], None)


def test_faults_change_at_run_time(start_estate: Any) -> None:
    estate = start_estate("healthy")
    estate.set_faults("xp01", truncate_json=True, latency_ms=3)
    reply = session(estate, "xp01").run_ps(probe_script("client_facts", {}))
    with pytest.raises(json.JSONDecodeError):
        json.loads(reply.std_out)
    assert estate.wsman("xp01").faults.latency_ms == 3
    estate.set_faults("xp01", truncate_json=False, force_401=True)
    with pytest.raises(InvalidCredentialsError):
        session(estate, "xp01").run_ps(probe_script("client_facts", {}))
    with pytest.raises(ValueError, match="known: latency_ms"):
        estate.set_faults("xp01", smoke=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="binding ports 80/8530/5985 needs root")
def test_nominal_ports(tmp_path: Path) -> None:
    with Estate.start(
        "healthy", workdir=tmp_path / "e", base_address="127.0.3.0", ports="nominal"
    ) as estate:
        wsus = estate.server("wsus01")
        assert wsus.selfupdate_url == "http://127.0.3.10"
        assert wsus.wsus_url == "http://127.0.3.10:8530"
        assert estate.wsman("xp01").url == "http://127.0.3.20:5985/wsman"
        statuses = [e["status"] for e in estate.host("xp01").answer("client_facts", {})["http"]]
        assert statuses == [200, 200, 200, 200, 200]


def test_two_estates_at_once_both_accept_ntlm(tmp_path: Path) -> None:
    previous = os.environ.get("NTLM_USER_FILE")
    with (
        Estate.start("healthy", workdir=tmp_path / "one") as first,
        Estate.start("au_disabled", workdir=tmp_path / "two", base_address="127.0.4.0") as second,
    ):
        for estate in (first, second):
            assert session(estate, "xp01").run_ps(probe_script("client_facts", {})).status_code == 0
        first.stop()
        assert session(second, "xp01").run_ps(probe_script("client_facts", {})).status_code == 0
    assert os.environ.get("NTLM_USER_FILE") == previous
