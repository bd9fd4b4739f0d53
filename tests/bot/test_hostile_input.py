"""Hostile or broken input gets one clear line and changes nothing (issue 14's findings
1-5): nested configs, endless facts streams, BOM-less UTF-16, IPv6 zone ids, unsigned
HTTP requests."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from slack_bolt import App

from bot.cli import main
from bot.config import MAX_CONFIG_BYTES, load_settings
from bot.inventory import validate_host_argument
from bot.slack.serve import Readiness, SlackAsgi
from checks.errors import ConfigError, FactsError, UsageError
from checks.facts import read_host_facts

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_a_deeply_nested_config_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "deep.toml"
    path.write_text("a = " + "[" * 1000 + "]" * 1000 + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="nested too deeply"):
        load_settings(path, env={})
    code, output = run(capsys, "-c", str(path), "doctor")
    assert code == 2
    assert "nested too deeply" in output
    assert "Traceback" not in output


def test_a_huge_config_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    path.write_bytes(b"#" * (MAX_CONFIG_BYTES + 10))
    with pytest.raises(ConfigError, match="larger than 4 MiB"):
        load_settings(path, env={})


def test_an_endless_facts_stream_is_refused_at_the_limit(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, output = run(capsys, "check", "h1", "--facts", "/dev/zero")
    assert code == 2
    assert "more than 32 MiB" in output
    assert "Traceback" not in output


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_bom_is_read(codec: str) -> None:
    text = (EXAMPLES / "client-healthy.json").read_text(encoding="utf-8")
    assert read_host_facts(text.encode(codec)).host == "pc-win10-01"


def test_broken_bomless_utf16_says_what_it_looks_like() -> None:
    raw = '{"schema": "x"}'.encode("utf-16-le") + b"\x00\xd8"  # a lone surrogate
    with pytest.raises(FactsError, match="utf-16-le without a byte-order mark"):
        read_host_facts(raw)


@pytest.mark.parametrize(
    "text",
    [
        "fe80::1%$(Stop-Computer)",
        "::1%';Remove-Item",
        "fe80::1%eth0 x",
        "fe80::1%",
        "10.0.0.1%eth0",
        "fe80::1%" + "a" * 65,
    ],
)
def test_ipv6_zone_ids_are_unreserved_characters_only(text: str) -> None:
    with pytest.raises(UsageError, match="zone id"):
        validate_host_argument(text)


@pytest.mark.parametrize("text", ["fe80::1%eth0", "fe80::1%25", "fe80::a%en0.1_x~y"])
def test_valid_zone_ids_pass(text: str) -> None:
    assert validate_host_argument(text) == text


def test_audit_host_refuses_a_hostile_zone_id(capsys: pytest.CaptureFixture[str]) -> None:
    code, output = run(capsys, "audit", "--host", "::1%';Remove-Item")
    assert code == 2
    assert "zone id" in output


class _Ready:
    def report(self) -> tuple[bool, dict[str, bool]]:
        return True, {}


async def _call(app: Any, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    body = b"payload=%7B%22type%22%3A%22block_actions%22%7D"
    sent: list[dict[str, Any]] = []
    chunks = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/slack/events",
        "query_string": b"",
        "headers": [(b"content-type", b"application/x-www-form-urlencoded"), *headers],
        "client": ("203.0.113.9", 4321),
    }
    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, payload


@pytest.mark.parametrize(
    "headers",
    [
        [(b"x-slack-request-timestamp", b"not-a-number"), (b"x-slack-signature", b"v0=ab")],
        [(b"x-slack-request-timestamp", b"1e9"), (b"x-slack-signature", b"v0=ab")],
        [(b"x-slack-signature", b"v0=ab")],
        [(b"x-slack-request-timestamp", b"1700000000")],
        [(b"x-slack-request-timestamp", b"1700000000"), (b"x-slack-signature", b"md5=ab")],
    ],
)
def test_unsigned_requests_get_401_and_one_short_log_line(
    headers: list[tuple[bytes, bytes]], caplog: pytest.LogCaptureFixture
) -> None:
    bolt = App(
        token="xoxb-test",
        signing_secret="secret",
        token_verification_enabled=False,
    )
    asgi = SlackAsgi(bolt, Readiness.__new__(Readiness))
    with caplog.at_level(logging.DEBUG):
        status, body = asyncio.run(_call(asgi, headers))
    assert status == 401
    assert json.loads(body) == {"error": "invalid signature"}
    lines = [r.getMessage() for r in caplog.records if r.name.startswith(("bot", "slack"))]
    assert lines == ["refused a request without a valid Slack signature from 203.0.113.9"]
    assert all("block_actions" not in line for line in lines)


@pytest.mark.parametrize("text", ["1.2\n.0.0X", "wsus01\n.corp", "fe80::1%eth0\nx"])
def test_a_newline_inside_a_host_name_is_refused(text: str) -> None:
    """Found by fuzz/fuzz_host.py: ``$`` in a regex matches before a final newline, so a
    label "2\\n" passed; labels and zone ids are matched whole now."""
    with pytest.raises(UsageError):
        validate_host_argument(text)
