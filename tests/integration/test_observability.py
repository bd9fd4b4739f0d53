"""The running bot (Socket Mode and HTTP, real Bolt against the lab's Slack and hosts):
/metrics scraped over HTTP and parsed with prometheus_client's parser; JSON log lines
parsed, carrying the request's and the check run's correlation ids; the configured WinRM
password never in a log line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.observability.logs import REDACTED, Redactor, configure_logging, request_scope, run_scope
from tests.integration.slack_support import slack_lab

VIEWER = "U0VIEWER"


def samples(text: str, family: str) -> dict[tuple[tuple[str, str], ...], float]:
    found: dict[tuple[tuple[str, str], ...], float] = {}
    for metric in text_string_to_metric_families(text):
        if metric.name != family:
            continue
        for sample in metric.samples:
            if sample.name in (f"{family}_total", f"{family}_count"):
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def value(found: dict[tuple[tuple[str, str], ...], float], **labels: str) -> float:
    return sum(v for k, v in found.items() if set(labels.items()) <= set(k))


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging("INFO", "json", stream=stream)
    try:
        yield stream
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])


@pytest.mark.parametrize("mode", ["socket", "http"])
def test_metrics_and_json_logs_of_the_running_bot(
    mode: str, tmp_path: Path, json_logs: io.StringIO
) -> None:
    with slack_lab(
        "winrm_auth_fails",
        tmp_path,
        mode=mode,  # type: ignore[arg-type]
        metrics__enabled=True,
        metrics__port=0,
        # an audit channel the bot is not in: each mirror post is a Slack API error
        slack__audit_channel="C0OTHER",
    ) as lab:
        password = lab.estate.password_file.read_text().strip()
        for host in ("wsus01", "xp01"):
            lab.command(VIEWER, f"check {host}", mode=mode).wait_ack(5)
            lab.final_message(host)
        lab.command(VIEWER, "frobnicate", mode=mode).wait_ack(5)
        lab.drain()
        url = lab.runtime.metrics_url
        assert url is not None
        if mode == "http":
            assert f":{lab.runtime.http_port}/metrics" in url  # the events port
        response = httpx.get(url, timeout=10)
        assert response.status_code == 200
        text = response.text

    commands = samples(text, "wsusbot_commands")
    assert value(commands, command="check", outcome="accepted") == 2
    assert value(commands, command="invalid", outcome="refused") == 1
    checks = samples(text, "wsusbot_checks")
    assert value(checks, check="server.anonymous_auth", status="pass") == 1
    assert value(checks, status="unknown") >= 1  # xp01 refuses the log-on
    trips = samples(text, "wsusbot_winrm_round_trip_seconds")
    assert value(trips, outcome="ok") >= 1
    assert value(trips, outcome="error") >= 1
    errors = samples(text, "wsusbot_slack_api_errors")
    assert value(errors, method="chat.postMessage") >= 1

    lines = [line for line in json_logs.getvalue().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    checked = [r for r in records if r["message"].startswith("check of ")]
    assert len(checked) == 2
    for record in checked:
        assert record["request_id"].startswith("req-")
        assert record["run_id"].startswith("run-")
    assert len({r["request_id"] for r in checked}) == 2  # one per Slack request
    assert password not in json_logs.getvalue()
    # the scheduler's and httpx's per-request INFO lines are not there
    assert not [r for r in records if r["logger"].startswith(("apscheduler", "httpx"))]


def test_a_configured_password_never_reaches_a_log_line(tmp_path: Path) -> None:
    from bot.secrets import read_secret

    secret_file = tmp_path / "winrm_password"
    secret_file.write_text("Winter2026!-very-secret\n")
    found = read_secret("WSUSBOT_TEST_NOPE", "WinRM password", file_from_config=secret_file, env={})
    assert found is not None
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging("DEBUG", "json", stream=stream)
    try:
        log = logging.getLogger("wsusbot.test")
        with request_scope("req-1"), run_scope("run-1"):
            log.info("connecting with %s", found.reveal())
            log.warning("url http://bot:%s@host/ token xoxb-1234-5678-abcdef", "pw")
            try:
                raise RuntimeError(f"failed: password={found.reveal()}")
            except RuntimeError:
                log.exception("boom")
        log.info("outside")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
    text = stream.getvalue()
    assert "Winter2026!-very-secret" not in text
    assert "xoxb-1234" not in text
    assert "bot:pw@" not in text
    records = [json.loads(line) for line in text.splitlines()]
    assert records[0]["message"] == f"connecting with {REDACTED}"
    assert records[0]["request_id"] == "req-1"
    assert records[0]["run_id"] == "run-1"
    assert "RuntimeError" in records[2]["message"]
    assert "request_id" not in records[3]


def test_redactor_patterns() -> None:
    redact = Redactor()
    redact.add("ab")  # too short to be redacted everywhere
    assert redact("tab") == "tab"
    assert redact("Authorization: Basic dXNlcjpwYXNz") == f"Authorization: Basic {REDACTED}"
    assert redact("postgresql://u:pw@db/x") == f"postgresql://u:{REDACTED}@db/x"
    assert redact("xapp-1-A0-123-abc") == REDACTED


def test_text_format_and_bad_levels(capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main

    assert main(["--log-level", "LOUD", "checks", "list"]) == 2
    assert "--log-level" in capsys.readouterr().err
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    configure_logging("INFO", "text", stream=stream)
    try:
        with request_scope("req-9"):
            logging.getLogger("wsusbot.t").info("hello")
        logging.getLogger("apscheduler.scheduler").info("Added job")
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].endswith("INFO wsusbot.t [req=req-9]: hello")


def test_digest_runs_are_counted_by_outcome(tmp_path: Path) -> None:
    from tests.integration.test_digest import digest_lab

    with digest_lab(tmp_path) as lab:
        outcome = lab.run_slot(lab.ctx.now())
        assert outcome is not None
        registry = lab.ctx.services.metrics.registry
        # the lab's digest scope includes an unreachable server: posted, but incomplete
        assert (
            registry.get_sample_value(
                "wsusbot_digest_runs_total", {"digest": "morning", "outcome": "incomplete"}
            )
            == 1
        )
