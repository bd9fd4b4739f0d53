"""The local Slack's views, view clicks, message shortcuts and modal answers, through a
stock Bolt app over Socket Mode (what issue 13's App Home, modals and shortcut need)."""

from __future__ import annotations

import queue
from typing import Any

import pytest
from slack_bolt import Ack, App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from lab.slack import LocalSlack

from .conftest import WAIT

HOME = {
    "type": "home",
    "blocks": [
        {
            "type": "actions",
            "block_id": "top",
            "elements": [
                {
                    "type": "button",
                    "action_id": "go",
                    "value": "v1",
                    "text": {"type": "plain_text", "text": "Go"},
                }
            ],
        }
    ],
}
MODAL = {
    "type": "modal",
    "callback_id": "why",
    "title": {"type": "plain_text", "text": "Why"},
    "submit": {"type": "plain_text", "text": "Send"},
    "private_metadata": "m-1",
    "blocks": [
        {
            "type": "input",
            "block_id": "reason",
            "label": {"type": "plain_text", "text": "Why?"},
            "element": {"type": "plain_text_input", "action_id": "text"},
        }
    ],
}


def test_a_click_on_the_home_tab_names_the_view_and_no_channel(
    slack: LocalSlack, connected: tuple[App, SocketModeHandler], web_client: WebClient
) -> None:
    app, _handler = connected
    bodies: queue.Queue[dict[str, Any]] = queue.Queue()

    @app.action("go")
    def on_go(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        bodies.put(body)

    view_id = web_client.views_publish(user_id="U0APPR", view=HOME)["view"]["id"]
    slack.click_view_button("U0APPR", view_id, "go").wait_ack(WAIT)
    body = bodies.get(timeout=WAIT)
    assert body["container"] == {"type": "view", "view_id": view_id}
    assert body["view"]["type"] == "home"
    assert body["actions"][0]["value"] == "v1"
    assert "channel" not in body
    assert "response_url" not in body
    assert body["trigger_id"]
    # a Home belongs to its user: nobody else can click on it
    with pytest.raises(LookupError):
        slack.click_view_button("U0OPER", view_id, "go")


def test_message_shortcut_payload_carries_message_channel_and_response_url(
    slack: LocalSlack, connected: tuple[App, SocketModeHandler]
) -> None:
    app, _handler = connected
    bodies: queue.Queue[dict[str, Any]] = queue.Queue()

    @app.shortcut("check_this_host")
    def on_shortcut(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        bodies.put(body)

    said = slack.post_as_user("U0VIEWER", "C0WSUS", "xp01 is stuck")
    slack.message_shortcut("U0OPER", "C0WSUS", said.ts, "check_this_host").wait_ack(WAIT)
    body = bodies.get(timeout=WAIT)
    assert body["type"] == "message_action"
    assert body["callback_id"] == "check_this_host"
    assert body["channel"]["id"] == "C0WSUS"
    assert body["message"]["text"] == "xp01 is stuck"
    assert body["message"]["ts"] == said.ts
    assert body["user"]["id"] == "U0OPER"
    assert body["response_url"].startswith(slack.base_url)


def test_a_modal_stays_open_on_errors_and_closes_on_a_bare_ack(
    slack: LocalSlack, connected: tuple[App, SocketModeHandler]
) -> None:
    app, _handler = connected

    @app.command("/wsus")
    def on_wsus(ack: Ack, command: dict[str, Any], client: WebClient) -> None:
        ack()
        client.views_open(trigger_id=command["trigger_id"], view=MODAL)

    @app.view("why")
    def on_why(ack: Ack, view: dict[str, Any]) -> None:
        text = view["state"]["values"]["reason"]["text"]["value"]
        assert view["private_metadata"] == "m-1"
        if len(text) < 3:
            ack(response_action="errors", errors={"reason": "too short"})
        else:
            ack()

    slack.type_command("U0APPR", "C0WSUS", "/wsus").wait_ack(WAIT)
    (modal,) = slack.wait_for(lambda: slack.views("U0APPR"), WAIT, "the modal")

    def values(text: str) -> dict[str, Any]:
        return {"reason": {"text": {"type": "plain_text_input", "value": text}}}

    slack.submit_view("U0APPR", modal.id, values("no")).wait_ack(WAIT)
    (kept,) = slack.views("U0APPR")
    assert not kept.closed
    assert kept.errors == [{"reason": "too short"}]
    # the modal is open for U0APPR alone
    with pytest.raises(LookupError):
        slack.submit_view("U0OPER", modal.id, values("not mine"))
    slack.submit_view("U0APPR", modal.id, values("not now")).wait_ack(WAIT)
    (closed,) = slack.views("U0APPR")
    assert closed.closed
    # a closed modal cannot be submitted again
    with pytest.raises(LookupError):
        slack.submit_view("U0APPR", modal.id, values("again"))


@pytest.mark.parametrize(
    "broken",
    [
        {"title": {"type": "plain_text", "text": "x" * 25}},
        {"title": {"type": "mrkdwn", "text": "Why"}},
        {"submit": None},
        {"private_metadata": "m" * 3001},
    ],
)
def test_views_open_refuses_a_modal_slack_would_refuse(
    slack: LocalSlack, web_client: WebClient, broken: dict[str, Any]
) -> None:
    view = {**MODAL, **broken}
    view = {k: v for k, v in view.items() if v is not None}
    delivery = slack.type_command("U0APPR", "C0WSUS", "/wsus")
    with pytest.raises(SlackApiError) as caught:
        web_client.views_open(trigger_id=delivery.trigger_id, view=view)
    assert caught.value.response["error"] == "invalid_arguments"
