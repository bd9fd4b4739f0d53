from __future__ import annotations

import json
import queue
import urllib.request
from typing import Any

import pytest
from slack_bolt import Ack, App, Respond
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from lab.slack import LocalSlack

from .conftest import WAIT

REASON_MODAL = {
    "type": "modal",
    "callback_id": "reject_reason",
    "title": {"type": "plain_text", "text": "Reject"},
    "submit": {"type": "plain_text", "text": "Reject"},
    "blocks": [
        {
            "type": "input",
            "block_id": "reason",
            "label": {"type": "plain_text", "text": "Why?"},
            "element": {"type": "plain_text_input", "action_id": "text"},
        }
    ],
}


def test_modal_opened_from_a_command_and_submitted(
    slack: LocalSlack, connected: tuple[App, SocketModeHandler]
) -> None:
    app, _handler = connected
    reasons: queue.Queue[str] = queue.Queue()

    @app.command("/wsus")
    def on_wsus(ack: Ack, command: dict[str, Any], client: WebClient) -> None:
        ack()
        client.views_open(trigger_id=command["trigger_id"], view=REASON_MODAL)

    @app.view("reject_reason")
    def on_reason(ack: Ack, view: dict[str, Any], body: dict[str, Any]) -> None:
        ack()
        reasons.put(body["user"]["id"] + ":" + view["state"]["values"]["reason"]["text"]["value"])

    slack.type_command("U0APPR", "C0WSUS", "/wsus", "reject 7").wait_ack(WAIT)
    (modal,) = slack.wait_for(lambda: slack.views("U0APPR"), WAIT, "the modal")
    assert modal.view["callback_id"] == "reject_reason"
    values = {"reason": {"text": {"type": "plain_text_input", "value": "not in window"}}}
    slack.submit_view("U0APPR", modal.id, values).wait_ack(WAIT)
    assert reasons.get(timeout=WAIT) == "U0APPR:not in window"


def test_response_url_kinds_are_recorded(slack: LocalSlack, web_client: WebClient) -> None:
    posted = web_client.chat_postMessage(
        channel="C0WSUS",
        text="approve?",
        blocks=[
            {
                "type": "section",
                "block_id": "ask",
                "text": {"type": "mrkdwn", "text": "approve?"},
                "accessory": {
                    "type": "button",
                    "action_id": "approve",
                    "text": {"type": "plain_text", "text": "Approve"},
                    "value": "a-1",
                },
            }
        ],
    )
    # No bot is connected: the deliveries wait, but their response_urls work already.
    typed = slack.type_command("U0OPER", "C0WSUS", "/wsus", "status")
    clicked = slack.click_button("U0APPR", "C0WSUS", posted["ts"], "approve")
    assert clicked.payload["actions"][0]["block_id"] == "ask"
    assert typed.response_url is not None
    assert clicked.response_url is not None

    WebhookClient(typed.response_url).send(text="only you see this")
    WebhookClient(typed.response_url).send(text="everyone sees this", response_type="in_channel")
    WebhookClient(clicked.response_url).send(text="approved by Ada", replace_original=True)

    assert [e.text for e in slack.ephemerals("C0WSUS", "U0OPER")] == ["only you see this"]
    assert [m.text for m in slack.messages("C0WSUS")] == ["approved by Ada", "everyone sees this"]
    WebhookClient(clicked.response_url).send_dict({"delete_original": True})
    assert [m.text for m in slack.messages("C0WSUS")] == ["everyone sees this"]
    kinds = [(r.response_type, r.replace_original, r.delete_original) for r in slack.responses()]
    assert kinds == [
        ("ephemeral", False, False),
        ("in_channel", False, False),
        ("ephemeral", True, False),
        ("ephemeral", False, True),
    ]
    assert (
        WebhookClient(f"{slack.base_url}/_lab/response/unknown").send(text="x").status_code == 404
    )


def test_click_on_missing_button_is_a_lookup_error(
    slack: LocalSlack, web_client: WebClient
) -> None:
    posted = web_client.chat_postMessage(channel="C0WSUS", text="plain")
    with pytest.raises(LookupError, match="'fix'"):
        slack.click_button("U0OPER", "C0WSUS", posted["ts"], "fix")


def test_command_typed_over_the_http_control_api(
    slack: LocalSlack, connected: tuple[App, SocketModeHandler]
) -> None:
    app, _handler = connected

    @app.command("/wsus")
    def on_wsus(ack: Ack, respond: Respond) -> None:
        ack()
        respond(text="pong")

    request = urllib.request.Request(
        f"{slack.base_url}/_lab/command",
        data=json.dumps(
            {"user": "U0VIEWER", "channel": "C0WSUS", "command": "/wsus", "text": "ping"}
        ).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request) as resp:
        delivery_id = json.load(resp)["id"]
    slack.wait_for(lambda: slack.ephemerals("C0WSUS", "U0VIEWER"), WAIT, "the reply")
    slack.wait_for(lambda: slack.deliveries()[0].acked, WAIT, "the ack")
    with urllib.request.urlopen(f"{slack.base_url}/_lab/deliveries") as resp:
        (listed,) = json.load(resp)["deliveries"]
    assert listed["id"] == delivery_id
    assert len(listed["acks"]) == 1


def test_home_tab_opened_event_and_publish(
    slack: LocalSlack, connected: tuple[App, SocketModeHandler]
) -> None:
    app, _handler = connected

    @app.event("app_home_opened")
    def on_home(event: dict[str, Any], client: WebClient) -> None:
        client.views_publish(
            user_id=event["user"],
            view={
                "type": "home",
                "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "3 hosts"}}],
            },
        )

    opened = slack.open_home("U0OPER")
    opened.wait_ack(WAIT)
    assert opened.payload["event"]["type"] == "app_home_opened"
    home = slack.wait_for(lambda: slack.home_view("U0OPER"), WAIT, "the home tab")
    assert home is not None
    assert home["blocks"][0]["text"]["text"] == "3 hosts"
