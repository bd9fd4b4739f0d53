"""The offline CLI: `checks list|explain` and `check HOST --facts FILE` on the examples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.checks.test_registry import CATALOGUE_IDS
from tests.cli_support import run

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOW = "2026-11-25T08:00:00Z"


def test_checks_list_json_has_every_catalogue_id(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "checks", "list", "--json")
    assert code == 0
    rows = json.loads(out)
    assert {row["id"] for row in rows} == CATALOGUE_IDS
    assert set(rows[0]) == {"id", "role", "title", "severity", "seed", "fix"}


def test_checks_explain(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "checks", "explain", "client.detection_stalled")
    assert code == 0
    assert "client.reset_au_state" in out
    assert "§10" in out
    code, _, err = run(capsys, "checks", "explain", "client.nope")
    assert code == 2
    assert "unknown check" in err.lower()


def test_healthy_client_passes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "check",
        "pc-win10-01",
        "--facts",
        str(EXAMPLES / "client-healthy.json"),
        "--now",
        NOW,
        "--expected-wsus-url",
        "http://wsus01:8530",
        "--json",
    )
    report = json.loads(out)
    assert code == 0
    assert report["schema"] == "wsusbot.report/1"
    assert {f["status"] for f in report["findings"]} == {"pass"}


def test_broken_client_fails_with_evidence_and_fixes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "check",
        "xp-lab-07",
        "--facts",
        str(EXAMPLES / "client-broken.json"),
        "--now",
        NOW,
        "--expected-wsus-url",
        "http://wsus01:8530",
        "--json",
    )
    report = json.loads(out)
    assert code == 1
    failing = {f["check"] for f in report["findings"] if f["status"] == "fail"}
    assert {
        "client.agent_version",
        "client.legacy_sus_server",
        "client.au_state",
        "client.services",
    } <= failing
    for finding in report["findings"]:
        assert set(finding) >= {"check", "status", "summary", "evidence", "fix", "seed"}
        if finding["status"] in ("fail", "warn"):
            assert finding["evidence"], finding["check"]
    assert "client.reset_au_state" in report["fixes"]


def test_broken_server_terminal_output(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "check",
        "wsus01",
        "--facts",
        str(EXAMPLES / "server-broken.json"),
        "--now",
        NOW,
    )
    assert code == 1
    assert "FAIL" in out
    assert "Proposed fixes" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"{not json", "not JSON"),
        (b'{"schema": "wsusbot.client_facts/1", "agent": {"wuaueng_version": ', "truncated"),
        (b'{"schema": "wsusbot.nope/9"}', "unknown schema"),
        (b'{"schema": "wsusbot.client_facts/1", "au": {"AUState": "seven"}}', "au.AUState"),
        (b"[1, 2]", "must be a JSON object"),
        (b"\x80\x81\x82", "not UTF-8"),
    ],
)
def test_bad_facts_files_exit_2_without_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "facts.json"
    path.write_bytes(content)
    code, out, err = run(capsys, "check", "h1", "--facts", str(path))
    assert code == 2
    assert message in err
    assert "Traceback" not in err + out


def test_utf16_facts_as_powershell_writes_them(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "facts.json"
    text = (EXAMPLES / "client-healthy.json").read_text(encoding="utf-8")
    path.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    code, _, _ = run(
        capsys,
        "check",
        "pc-win10-01",
        "--facts",
        str(path),
        "--now",
        NOW,
        "--expected-wsus-url",
        "http://wsus01:8530",
    )
    assert code == 0


def test_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(
        capsys, "check", "bad host!", "--facts", str(EXAMPLES / "client-healthy.json")
    )
    assert code == 2
    assert "not a host name" in err
    code, _, err = run(capsys, "check", "h", "--facts", str(tmp_path / "missing.json"))
    assert code == 2
    assert "cannot read facts file" in err
    code, _, err = run(
        capsys, "check", "h", "--facts", str(EXAMPLES / "client-healthy.json"), "--now", "yesterday"
    )
    assert code == 2
    assert "ISO-8601" in err
    code, _, err = run(
        capsys,
        "check",
        "h",
        "--facts",
        str(EXAMPLES / "client-healthy.json"),
        "--previous",
        str(EXAMPLES / "server-broken.json"),
    )
    assert code == 2
    assert "same role" in err
