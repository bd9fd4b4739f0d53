"""Issue 4: hostile or broken hosts give `unknown` with the right reason, within the
deadline, exit 3 for one host, and never disturb the rest of a fan-out. One WinRM command
per host check, counted in the lab."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from bot.cli import main
from checks.model import Status
from lab.estate import Estate
from tests.integration.lab_support import check_hosts, lab_services

DEADLINE_S = 4


@pytest.fixture
def estate(tmp_path: Path) -> Estate:
    with Estate.start("healthy", workdir=tmp_path / "lab") as running:
        yield running  # type: ignore[misc]


def write_config(estate: Estate, tmp_path: Path) -> Path:
    return estate.write_config(
        tmp_path / "wsusbot.toml",
        {
            "runner": {"host_deadline_s": DEADLINE_S},
            "winrm": {"operation_timeout_s": 1, "read_timeout_s": 3, "connect_retries": 1},
        },
    )


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("refuse", "unreachable"),
        ("force_401", "auth_failed"),
        ("fault_500", "remote_error"),
        ("malformed_xml", "bad_output"),
        ("truncate_json", "bad_output"),
        ("hang", "timeout"),
    ],
)
def test_fault_gives_unknown_with_reason_and_exit_3(
    estate: Estate, tmp_path: Path, capsys: pytest.CaptureFixture[str], fault: str, reason: str
) -> None:
    config = write_config(estate, tmp_path)
    estate.set_faults("xp01", **{fault: True})
    started = time.monotonic()
    code = main(["-c", str(config), "check", "xp01", "--json"])
    elapsed = time.monotonic() - started
    report = json.loads(capsys.readouterr().out)
    assert code == 3
    assert report["unreachable_reason"] == reason
    assert {f["status"] for f in report["findings"]} == {"unknown"}
    assert all(f["evidence"] for f in report["findings"])
    # the deadline holds (plus start-up of the CLI itself); generous on a loaded machine
    assert elapsed < DEADLINE_S + 10
    assert estate.password_file.read_text() not in json.dumps(report)


def test_a_broken_host_does_not_disturb_the_fan_out(
    estate: Estate, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(estate, tmp_path)
    estate.set_faults("xp01", hang=True)
    estate.set_faults("srv03", malformed_xml=True)
    code = main(["-c", str(config), "check", "--all", "--json"])
    reports = {r["host"]: r for r in json.loads(capsys.readouterr().out)}
    assert code == 3
    assert reports["xp01"]["unreachable_reason"] == "timeout"
    assert reports["srv03"]["unreachable_reason"] == "bad_output"
    for healthy in ("wsus01", "win10"):
        assert reports[healthy]["verdict"] == "pass", reports[healthy]


def test_one_winrm_command_per_host_check(tmp_path: Path) -> None:
    with lab_services("iis_log_errors", tmp_path) as (estate, services, _):
        for host in estate.hosts:
            estate.wsman(host.name).reset_stats()
            estate.host(host.name).reset_counts()
        reports = check_hosts(services)
        for host in estate.hosts:
            stats = estate.wsman(host.name).stats()
            assert stats.commands_run == 1, host.name
            assert stats.shells_created == 1, host.name
            assert stats.open_shells == 0, host.name
        server_probes = estate.host("wsus01").probe_counts()
        assert server_probes.get("bundle") == 1
        # the bundle carried the IIS log and the inventory: those checks are live
        statuses = {f.check: f.status for f in reports["wsus01"].findings}
        assert statuses["server.iis_log_errors"] is Status.FAIL
        assert statuses["server.stale_clients"] is Status.PASS


def test_live_history_records_runs(
    estate: Estate, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(estate, tmp_path)
    assert main(["-c", str(config), "check", "win10"]) == 0
    assert main(["-c", str(config), "check", "win10"]) == 0
    capsys.readouterr()
    assert main(["-c", str(config), "history", "win10", "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert len(runs) == 2
    assert runs[0]["requested_by"].startswith("cli:")
    assert main(["-c", str(config), "check", "nosuch"]) == 2
