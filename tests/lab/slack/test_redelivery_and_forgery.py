"""Control-API extras: a redelivered envelope, a stale click and a forged button value."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient

from lab.slack import LocalSlack
from tests.lab.slack.conftest import WAIT


def test_redeliver_sends_the_same_envelope_again(
    slack: LocalSlack, connected: tuple[App, SocketModeHandler]
) -> None:
    app, _handler = connected
    seen: list[tuple[str, int | None]] = []

    @app.command("/wsus")
    def command(ack: Ack, body: dict[str, Any], context: Any) -> None:
        ack()
        seen.append((str(body["trigger_id"]), context.get("retry_num")))

    delivery = slack.type_command("U0VIEWER", "C0WSUS", "/wsus", "check wsus01")
    delivery.wait_ack(WAIT)
    slack.redeliver(delivery)
    attempts = delivery.wait_attempts(2, WAIT)
    assert [a.retry_attempt for a in attempts] == [0, 1]
    slack.wait_for(lambda: len(seen) == 2 or None, timeout=WAIT)
    assert seen[0][0] == seen[1][0], "a retry carries the same payload (same trigger_id)"


def test_stale_click_and_forged_value(
    slack: LocalSlack, web_client: WebClient, connected: tuple[App, SocketModeHandler]
) -> None:
    app, _handler = connected
    values: list[str] = []

    @app.action("go")
    def go(ack: Ack, action: dict[str, Any]) -> None:
        ack()
        values.append(str(action["value"]))

    button = {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "action_id": "go",
                "value": "v1",
                "text": {"type": "plain_text", "text": "Go"},
            }
        ],
    }
    posted = web_client.chat_postMessage(channel="C0WSUS", text="t", blocks=[button])
    web_client.chat_update(
        channel="C0WSUS",
        ts=posted["ts"],
        text="done",
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}],
    )
    slack.click_button("U0OPER", "C0WSUS", str(posted["ts"]), "go", stale=True).wait_ack(WAIT)
    slack.click_button(
        "U0OPER", "C0WSUS", str(posted["ts"]), "go", stale=True, forged_value="evil"
    ).wait_ack(WAIT)
    slack.wait_for(lambda: len(values) == 2 or None, timeout=WAIT)
    assert values == ["v1", "evil"]
