"""Secrets never leak: not in logs, Slack messages, exceptions, JSON output or the DB."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.cli import main
from tests.integration.slack_support import (
    CHANNEL,
    blocks_text,
    reason_values,
    slack_lab,
    through_modal,
)


def test_no_secret_in_db_messages_logs_or_json(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    with slack_lab("wuauserv_stopped", tmp_path) as lab:
        secrets = [
            lab.estate.password_file.read_text(),
            lab.slack.bot_token,
            lab.slack.app_token,
            lab.slack.signing_secret,
        ]
        lab.command("U0OPER", "check xp01").wait_ack(5)
        result = lab.final_message("xp01")
        through_modal(
            lab.slack,
            "U0OPER",
            lambda: lab.slack.click_button(
                "U0OPER", CHANNEL, result.ts, "fix_request:client.restart_wuauserv"
            ),
            "fix_request_reason",
            reason_values("the service is stopped"),
        )
        card = lab.slack.wait_for(
            lambda: next(
                (
                    m
                    for m in lab.slack.messages(CHANNEL, thread_ts=result.ts)
                    if m.text.startswith("fix ")
                ),
                None,
            ),
            timeout=20,
        )
        lab.slack.click_button("U0APPR", CHANNEL, card.ts, "approval_approve").wait_ack(5)
        lab.slack.wait_for(
            lambda: lab.slack.message(CHANNEL, card.ts).text.endswith("succeeded") or None,
            timeout=30,
        )
        lab.estate.set_faults("wsus01", force_401=True)
        lab.command("U0OPER", "check wsus01").wait_ack(5)
        lab.final_message("wsus01")
        lab.drain()
        conversation = " ".join(
            m.text + blocks_text(m.blocks)
            for m in lab.slack.messages(CHANNEL, include_replies=True)
        ) + " ".join(str(r.body) for r in lab.slack.responses())
        assert main(["-c", str(lab.config), "audit", "--format", "json"]) == 0
        assert main(["-c", str(lab.config), "history", "wsus01", "--json"]) == 0
        output = capsys.readouterr()
        database = Path(lab.settings.store.url.removeprefix("sqlite:///"))
    stored = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
    logs = "\n".join(r.getMessage() + str(r.exc_info or "") for r in caplog.records)
    for secret in secrets:
        assert secret not in conversation
        assert secret.encode() not in stored
        assert secret not in logs
        assert secret not in output.out + output.err
    assert "auth_failed" in conversation
