"""Hosts as executors: the WS-Man transport hands them CommandRequests (docs/probes.md
"Transport"); they answer probes and fail like PowerShell on anything else."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from lab.hosts.base import HANG_SECONDS
from lab.wsman import CommandRequest
from tests.lab.conftest import STAGER, probe_script

USER = "LAB\\wsusbot"


def staged(script: str) -> CommandRequest:
    encoded = base64.b64encode(STAGER.encode("utf-16-le")).decode()
    return CommandRequest(
        command_line=f"powershell.exe -NoProfile -NonInteractive -EncodedCommand {encoded}",
        script=STAGER,
        stdin=script.encode("ascii"),
        username=USER,
    )


def direct(script: str) -> CommandRequest:
    return CommandRequest(
        command_line="powershell -encodedcommand AAAA", script=script, stdin=b"", username=USER
    )


def assert_powershell_error(result: Any, fragment: str) -> None:
    assert result.exit_code == 1
    assert result.stderr.startswith(b"#< CLIXML\r\n")
    assert b'<S S="Error">' in result.stderr
    assert fragment.encode() in result.stderr


def test_stager_with_probe_on_stdin(start_estate: Any) -> None:
    estate = start_estate("healthy")
    xp = estate.host("xp01")
    result = xp(staged(probe_script("client_facts", {"expected_wsus_url": None})))
    assert result.exit_code == 0
    assert result.stderr == b""
    assert json.loads(result.stdout)["schema"] == "wsusbot.client_facts/1"
    assert xp.probe_counts() == {"client_facts": 1}


def test_probe_directly_in_the_encoded_command(start_estate: Any) -> None:
    server = start_estate("healthy").host("wsus01")
    result = server(direct(probe_script("wsus_computers", {})))
    assert json.loads(result.stdout)["schema"] == "wsusbot.wsus_computers/1"


def test_bundle_counts_itself_and_its_parts(start_estate: Any) -> None:
    server = start_estate("healthy").host("wsus01")
    probes: dict[str, dict[str, Any]] = {
        "server_facts": {},
        "wsus_computers": {},
        "no_such_probe": {},
    }
    result = server(staged(probe_script("bundle", {"probes": probes})))
    documents = json.loads(result.stdout)["documents"]
    assert documents["no_such_probe"]["errors"][0]["message"] == "unknown probe"
    assert server.probe_counts() == {"bundle": 1, "server_facts": 1, "wsus_computers": 1}


@pytest.mark.parametrize(
    ("script", "fragment"),
    [
        (probe_script("make_coffee", {}), "make_coffee"),
        (probe_script("client_facts", {}, version=2), "not supported"),
        ("Get-Process\r\n", "header"),
        ("\x00\x01garbage", "header"),
        ("# wsusbot-probe: client_facts v1\r\nWrite-Output 1\r\n", "$params"),
        ("# wsusbot-probe: client_facts v1\r\n$params = [Text.Encoding]::UTF8.GetString("
         "[Convert]::FromBase64String('bm90IGpzb24='))\r\n", "JSON"),
    ],
)  # fmt: skip
def test_bad_scripts_fail_like_powershell(start_estate: Any, script: str, fragment: str) -> None:
    xp = start_estate("healthy").host("xp01")
    assert_powershell_error(xp(staged(script)), fragment)
    assert_powershell_error(xp(direct(script)), fragment)
    assert xp.probe_counts() == {}


def test_server_probe_on_a_client_is_unknown(start_estate: Any) -> None:
    xp = start_estate("healthy").host("xp01")
    assert_powershell_error(xp(staged(probe_script("server_facts", {}))), "server_facts")


def test_a_plain_command_is_not_recognised(start_estate: Any) -> None:
    xp = start_estate("healthy").host("xp01")
    request = CommandRequest(command_line="ipconfig /all", script=None, stdin=b"", username=USER)
    assert_powershell_error(xp(request), "ipconfig")


def test_truncated_json_and_hang_faults(start_estate: Any) -> None:
    xp = start_estate("healthy").host("xp01")
    xp.faults.truncate_json = True
    result = xp(staged(probe_script("client_facts", {})))
    with pytest.raises(json.JSONDecodeError):
        json.loads(result.stdout)
    xp.faults.truncate_json = False
    xp.faults.hang = True
    assert xp(staged(probe_script("client_facts", {}))).duration_s == HANG_SECONDS


def test_a_fix_marked_to_fail(start_estate: Any) -> None:
    xp = start_estate("wuauserv_stopped").host("xp01")
    xp.faults.fail_fixes = {"fix_restart_wuauserv"}
    result = xp(staged(probe_script("fix_restart_wuauserv", {})))
    assert_powershell_error(result, "Access is denied")
    assert json.loads(result.stdout)["changed"] is False
    assert xp.state["services"]["wuauserv"]["state"] == "Stopped"


def test_counters_reset(start_estate: Any) -> None:
    xp = start_estate("healthy").host("xp01")
    xp(staged(probe_script("client_facts", {})))
    xp.reset_counts()
    assert xp.probe_counts() == {}
