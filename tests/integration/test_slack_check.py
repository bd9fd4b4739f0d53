"""Issue 5 end to end: the real Bolt app against the lab's local Slack and hosts."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from bot.store.audit import AuditLog
from tests.integration.slack_support import CHANNEL, SlackLab, blocks_text, buttons, slack_lab

OPERATOR = "U0OPER"
VIEWER = "U0VIEWER"


@pytest.fixture(params=["socket", "http"])
def lab(request: pytest.FixtureRequest, tmp_path: Path) -> SlackLab:
    with slack_lab("mixed", tmp_path, mode=request.param) as running:
        yield running  # type: ignore[misc]


def test_check_posts_at_once_then_the_verdict_in_place(lab: SlackLab) -> None:
    delivery = lab.command(VIEWER, "check wsus01", mode=lab.runtime.mode)
    ack = delivery.wait_ack(5)
    assert ack.latency < 3.0
    message = lab.final_message("wsus01")
    # the placeholder was edited in place, not followed by a second message
    assert message.edits, "the verdict replaces the 'checking' message"
    assert "checking" in message.edits[0].text
    assert message.text.startswith("wsus01: FAIL")
    text = blocks_text(message.blocks)
    assert "server.selfupdate_vdir" in text
    assert "Cc708554" in text
    assert "Check for the selfupdate tree on the WSUS server" in text
    assert any(b["action_id"].startswith("fix_request:") for b in buttons(message))
    lab.slack.wait_for(
        lambda: len(lab.slack.messages(CHANNEL, thread_ts=message.ts)) > 1 or None,
        timeout=10,
        description="details in the thread",
    )
    details = lab.slack.messages(CHANNEL, thread_ts=message.ts)[1:]
    # the thread holds every check, passes included
    assert "server.services" in blocks_text([b for m in details for b in m.blocks])


def test_healthy_host_passes(tmp_path: Path) -> None:
    with slack_lab("healthy", tmp_path) as lab:
        lab.command(VIEWER, "check wsus01").wait_ack(5)
        message = lab.final_message("wsus01")
        assert message.text.startswith("wsus01: PASS")
        assert not buttons(message)


def test_user_errors_are_ephemeral_and_run_nothing(lab: SlackLab) -> None:
    cases = {
        "check": "exactly one host",
        "check nosuchhost": "not in the inventory",
        "check wsus01; rm -rf /": "exactly one host",
        "check $(whoami)": "not a host name",
        "frobnicate wsus01": "unknown sub-command",
        "x" * 10_000: "characters long",
    }
    for text, expected in cases.items():
        ack = lab.command(OPERATOR, text, mode=lab.runtime.mode).wait_ack(5)
        body = ack.payload or {}
        shown = str(body.get("text", "")) + str(ack.http_body or "")
        assert expected in shown, (text[:40], shown)
        assert "ephemeral" in json.dumps(body) + str(ack.http_body), text[:40]
    assert lab.runtime.ctx is not None
    lab.drain()
    assert lab.runtime.ctx.services.runs.count() == 0
    assert not [m for m in lab.bot_messages() if "checking" in m.text]
    refused = AuditLog(lab.runtime.ctx.services.db).query(action="check_refused")
    assert len(refused) == len(cases)


def test_roles_and_channels_are_enforced(tmp_path: Path) -> None:
    with slack_lab("healthy", tmp_path, roles__viewers=["U0VIEWER"]) as lab:
        ack = lab.command("U0NOBODY", "check wsus01").wait_ack(5)
        assert "viewer role" in str((ack.payload or {}).get("text"))
        ack = lab.command(VIEWER, "check wsus01", channel="C0AUDIT").wait_ack(5)
        assert "not enabled in this channel" in str((ack.payload or {}).get("text"))
        assert lab.runtime.ctx is not None
        assert lab.runtime.ctx.services.runs.count() == 0


def test_twenty_commands_at_once_are_all_acked_and_answered(tmp_path: Path) -> None:
    with slack_lab("healthy", tmp_path) as lab:
        hosts = ["wsus01", "xp01", "srv03", "win10"]
        deliveries = [lab.command(VIEWER, f"check {hosts[i % 4]}") for i in range(20)]
        acks = [d.wait_ack(10) for d in deliveries]
        assert all(a.latency < 3.0 for a in acks)
        lab.slack.wait_for(
            lambda: sum(1 for m in lab.bot_messages() if ": PASS" in m.text) == 20 or None,
            timeout=90,
            description="20 verdicts",
        )


@pytest.mark.parametrize("mode", ["socket", "http"])
def test_a_retried_command_runs_one_check(tmp_path: Path, mode: str) -> None:
    with slack_lab("healthy", tmp_path, mode=mode) as lab:  # type: ignore[arg-type]
        delivery = lab.command(VIEWER, "check xp01", mode=mode)
        delivery.wait_ack(5)
        lab.slack.redeliver(delivery)
        delivery.wait_attempts(2, 5)
        # the retry was handled (acked), not merely sent, before anything is counted
        lab.slack.wait_for(lambda: len(delivery.acks) >= 2 or None, timeout=10)
        lab.final_message("xp01")
        lab.drain()
        assert lab.runtime.ctx is not None
        assert lab.runtime.ctx.services.runs.count() == 1
        assert len([m for m in lab.bot_messages() if m.text.startswith("xp01")]) == 1


def test_a_hanging_host_does_not_slow_acks_for_others(tmp_path: Path) -> None:
    with slack_lab("healthy", tmp_path, runner__host_deadline_s=4) as lab:
        lab.estate.host("xp01").faults.hang = True
        lab.command(VIEWER, "check xp01").wait_ack(5)
        acks = [lab.command(VIEWER, "check wsus01").wait_ack(5) for _ in range(3)]
        assert all(a.latency < 3.0 for a in acks)
        lab.slack.wait_for(
            lambda: (
                sum(1 for m in lab.bot_messages() if m.text.startswith("wsus01: PASS")) == 3 or None
            ),
            timeout=30,
            description="others answered while xp01 hangs",
        )


def test_http_mode_rejects_bad_signatures_and_old_timestamps(tmp_path: Path) -> None:
    with slack_lab("healthy", tmp_path, mode="http") as lab:
        for tamper in ("bad_signature", "stale_timestamp"):
            ack = lab.command(VIEWER, "check wsus01", mode="http", tamper=tamper).wait_ack(5)
            assert ack.http_status == 401, tamper
        assert lab.runtime.ctx is not None
        assert lab.runtime.ctx.services.runs.count() == 0
        port = lab.runtime.http_port
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").json() == {"status": "ok"}
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz")
        assert ready.status_code == 200
        assert ready.json()["store"] is True


def test_rate_limits_are_waited_out(tmp_path: Path) -> None:
    with slack_lab("healthy", tmp_path) as lab:
        lab.slack.rate_limit("chat.update", 1)
        lab.command(VIEWER, "check wsus01").wait_ack(5)
        message = lab.final_message("wsus01")
        assert message.text.startswith("wsus01: PASS")
        limited = [c for c in lab.slack.calls("chat.update") if c.http_status == 429]
        assert limited


def test_home_tab_shows_latest_verdicts(tmp_path: Path) -> None:
    with slack_lab("healthy", tmp_path) as lab:
        lab.command(VIEWER, "check wsus01").wait_ack(5)
        lab.final_message("wsus01")
        lab.slack.open_home(VIEWER).wait_ack(5)
        view = lab.slack.wait_for(
            lambda: lab.slack.home_view(VIEWER), timeout=10, description="home tab published"
        )
        assert "wsus01" in blocks_text(view["blocks"])


def test_history_and_catalogue(tmp_path: Path) -> None:
    with slack_lab("healthy", tmp_path) as lab:
        lab.command(VIEWER, "check win10").wait_ack(5)
        lab.final_message("win10")
        lab.drain()
        history = lab.command(VIEWER, "history win10")
        history.wait_ack(5)
        posts = lab.slack.wait_for(lambda: lab.slack.responses(history.id) or None, timeout=5)
        body = str(posts[-1].body)
        assert "history of win10" in body
        assert "run 1" in body
        ack = lab.command(VIEWER, "checks").wait_ack(5)
        assert "client.detection_stalled" in str(ack.payload)


def test_ack_pool_is_not_exhausted_by_concurrent_slow_checks(tmp_path: Path) -> None:
    with slack_lab("healthy", tmp_path) as lab:
        for name in ("wsus01", "xp01", "srv03", "win10"):
            lab.estate.host(name).wsman.faults.latency_ms = 300
        with ThreadPoolExecutor(10) as pool:
            deliveries = list(pool.map(lambda i: lab.command(VIEWER, "check win10"), range(10)))
        assert all(d.wait_ack(10).latency < 3.0 for d in deliveries)


def test_home_tab_needs_the_viewer_role(tmp_path: Path) -> None:
    with slack_lab("healthy", tmp_path, roles__viewers=[VIEWER]) as lab:
        lab.command(VIEWER, "check wsus01").wait_ack(5)
        lab.final_message("wsus01")
        lab.slack.open_home("U0NOBODY").wait_ack(5)
        view = lab.slack.wait_for(lambda: lab.slack.home_view("U0NOBODY"), timeout=10)
        text = blocks_text(view["blocks"])
        assert "viewer role" in text
        assert "wsus01" not in text


@pytest.mark.parametrize("mode", ["socket", "http"])
def test_a_click_on_an_unknown_button_is_acked_and_explained(tmp_path: Path, mode: str) -> None:
    """A button from an older version (or a tampered action id): acked, so Slack does not
    retry it, and the user is told; nothing runs."""
    with slack_lab("healthy", tmp_path, mode=mode) as lab:
        assert lab.runtime.ctx is not None
        client = lab.runtime.ctx.chat.client  # type: ignore[attr-defined]
        posted = client.chat_postMessage(
            channel=CHANNEL,
            text="old message",
            blocks=[
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "text": {"type": "plain_text", "text": "Old"},
                            "action_id": "retired_action_v0",
                            "value": "x",
                        }
                    ],
                }
            ],
        )
        delivery = lab.slack.click_button(
            VIEWER, CHANNEL, str(posted["ts"]), "retired_action_v0", mode=mode
        )
        assert delivery.wait_ack(5).latency < 3.0
        (answer,) = lab.slack.wait_for(
            lambda: lab.slack.responses(delivery.id) or None, timeout=10, description="reply"
        )
        assert answer.body.get("response_type") == "ephemeral"
        assert "does not know this button" in str(answer.body.get("text"))
        assert AuditLog(lab.runtime.ctx.services.db).query(action="check") == []
