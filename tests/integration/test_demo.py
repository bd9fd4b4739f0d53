"""The README's main command: `wsusbot demo` plays the whole story on the lab."""

from __future__ import annotations

import pytest

from bot.cli import main


def test_demo_checks_every_host_and_runs_an_approved_fix(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    for host in ("wsus01", "xp01", "srv03", "xp02", "win10"):
        assert f"/wsus check {host}" in out
    assert "wsus01: FAIL" in out
    assert "says why" in out
    assert "clicks Approve" in out
    assert "succeeded" in out
    assert "server.selfupdate_http: pass" in out
    # the batch conversation (issue 16): one approval, canary first, summary in thread
    assert "/wsus fix client.restart_wuauserv group lab" in out
    assert "clicks Approve on the batch card" in out
    assert "completed: fixed 1" in out
