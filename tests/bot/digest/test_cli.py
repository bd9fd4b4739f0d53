"""`wsusbot logscan`, `wsusbot doctor` and the digest command's argument errors."""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from lab.estate import dumps_toml
from lab.slack import LocalSlack

LOG = [
    "#Software: Microsoft Internet Information Services 7.5",
    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port c-ip sc-status sc-substatus",
    "2026-11-25 07:00:00 10.0.0.9 GET /wutrack.bin - 80 10.20.3.14 404 0",
    "2026-11-25 07:03:00 10.0.0.9 GET /wutrack.bin - 80 10.20.3.14 404 0",
    "2026-11-25 07:04:00 10.0.0.9 GET /selfupdate/wuident.cab - 80 10.20.3.15 200 0",
    "2026-11-25 07:05:00 10.0.0.9 GET /index.html - 80 10.20.3.16 404 0",
    "\x00\x01 binary garbage",
]


@pytest.fixture
def logs(tmp_path: Path) -> list[Path]:
    first = tmp_path / "u_ex261124.log.gz"
    with gzip.open(first, "wt", encoding="utf-8") as stream:
        stream.write("\n".join(LOG[:3]) + "\n")
    second = tmp_path / "u_ex261125.log"
    second.write_text("\n".join([LOG[1], *LOG[3:]]) + "\n", encoding="utf-8")
    return [first, second]


def test_logscan_json_shape(logs: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    # failing self-update requests: exit 1, as `check` exits 1 on a failing check
    assert main(["logscan", "--json", *map(str, logs)]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["files"] == [str(p) for p in logs]
    assert data["requests"] == 4
    assert data["skipped_lines"] == 1
    assert data["skipped"] == {"field_count": 1}
    assert data["files_without_fields"] == []
    assert data["answers"] == {"200.0": 1, "404.0": 2}
    assert data["failures"] == [
        {
            "client_ip": "10.20.3.14",
            "path": "/wutrack.bin",
            "status": 404,
            "substatus": 0,
            "code": "404.0",
            "substatuses": {"0": 2},
            "count": 2,
            "first_seen": "2026-11-25T07:00:00Z",
            "last_seen": "2026-11-25T07:03:00Z",
            "meaning": data["failures"][0]["meaning"],
        }
    ]
    assert data["failures"][0]["meaning"].startswith("HTTP 404.0: not found")


def test_logscan_table(logs: list[Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["logscan", *map(str, reversed(logs))]) == 1
    out = capsys.readouterr().out
    assert "10.20.3.14" in out
    assert "404.0" in out
    assert "2 files" in out
    assert "1 lines skipped" in out
    assert "skipped lines: field_count 1" in out


def test_logscan_clean_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean = tmp_path / "u_ex261125.log"
    clean.write_text("\n".join([LOG[1], LOG[4]]) + "\n", encoding="utf-8")
    assert main(["logscan", "--json", str(clean)]) == 0
    assert json.loads(capsys.readouterr().out)["failures"] == []


def test_logscan_ignores_the_bots_address(
    logs: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["logscan", "--ignore-client", "10.20.3.14", *map(str, logs)]) == 0
    assert "2 bot requests ignored" in capsys.readouterr().out


def test_logscan_without_fields_header(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bare = tmp_path / "u_ex261125.log"
    bare.write_text(LOG[2] + "\n", encoding="utf-8")
    # nothing readable at all: a usage/file error, not a clean zero
    assert main(["logscan", str(bare)]) == 2
    assert "no #Fields header" in capsys.readouterr().err
    good = tmp_path / "u_ex261126.log"
    good.write_text("\n".join([LOG[1], LOG[4]]) + "\n", encoding="utf-8")
    assert main(["logscan", "--json", str(bare), str(good)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["files_without_fields"] == [str(bare)]
    assert data["skipped"] == {"no_fields": 1}


def test_logscan_bad_files_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["logscan", str(tmp_path / "missing.log")]) == 2
    assert "cannot read log file" in capsys.readouterr().err
    assert main(["logscan", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_digest_needs_now(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["digest"]) == 2
    assert "--now" in capsys.readouterr().err


@pytest.fixture
def slack() -> Iterator[LocalSlack]:
    local = LocalSlack().start()
    try:
        yield local
    finally:
        local.stop()


def write_config(
    tmp_path: Path, slack: LocalSlack, channel: str, cron: str = "0 8 * * 1-5"
) -> Path:
    token = tmp_path / "bot_token"
    descriptor = os.open(token, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "w") as stream:
        stream.write(slack.bot_token)
    config = {
        "store": {"url": f"sqlite:///{tmp_path / 'db.sqlite'}"},
        "slack": {
            "api_url": slack.api_url,
            "bot_token_file": str(token),
            "audit_channel": "C0AUDIT",
        },
        "digests": [
            {"id": "morning", "channel": channel, "cron": cron, "timezone": "Europe/Paris"}
        ],
    }
    path = tmp_path / "wsusbot.toml"
    path.write_text(dumps_toml(config), encoding="utf-8")
    return path


def test_doctor_all_ok(
    tmp_path: Path, slack: LocalSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, slack, "C0DIGEST")
    # a store the bot has migrated
    assert main(["--config", str(config), "digest", "--now", "--dry-run"]) == 0
    capsys.readouterr()
    code = main(["--config", str(config), "doctor"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "FAIL" not in out
    assert "next" in out
    assert slack.bot_token not in out


def test_doctor_fails_on_a_channel_without_the_bot(
    tmp_path: Path, slack: LocalSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, slack, "C0OTHER")
    code = main(["--config", str(config), "doctor"])
    out = capsys.readouterr().out
    assert code == 1
    assert "not a member" in out
    assert "migrations" in out  # an empty store is behind the code
    assert slack.bot_token not in out


def test_digest_now_into_a_channel_without_the_bot(
    tmp_path: Path, slack: LocalSlack, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, slack, "C0OTHER")
    assert main(["--config", str(config), "digest", "--now"]) == 1
    err = capsys.readouterr().err
    assert "cannot post to channel C0OTHER" in err
    assert "/invite" in err
