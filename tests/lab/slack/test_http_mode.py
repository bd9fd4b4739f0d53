from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_bolt import Ack, App, BoltRequest, Respond
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

from lab.slack import LocalSlack

WAIT = 10.0


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean."""


@pytest.fixture
def http_app(slack: LocalSlack) -> Iterator[App]:
    client = WebClient(token=slack.bot_token, base_url=slack.api_url, timeout=10)
    app = App(client=client, signing_secret=slack.signing_secret)
    server: WSGIServer = make_server(
        "127.0.0.1", 0, SlackRequestHandler(app), handler_class=QuietHandler
    )
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    serving.start()
    slack.http_bot_url = f"http://127.0.0.1:{server.server_port}/slack/events"
    try:
        yield app
    finally:
        server.shutdown()
        serving.join(WAIT)
        server.server_close()


def test_signed_command_and_click(slack: LocalSlack, http_app: App) -> None:
    seen: queue.Queue[dict[str, Any]] = queue.Queue()

    @http_app.command("/wsus")
    def on_wsus(ack: Ack, command: dict[str, Any], client: WebClient) -> None:
        ack("checking wsus01...")
        client.chat_postMessage(
            channel=command["channel_id"],
            text="report",
            blocks=[
                {
                    "type": "actions",
                    "block_id": "fixes",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": "approve",
                            "text": {"type": "plain_text", "text": "Approve"},
                            "value": "approval-7",
                        }
                    ],
                }
            ],
        )
        seen.put(command)

    @http_app.action("approve")
    def on_approve(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        respond(text="approved", response_type="in_channel")
        seen.put(body)

    typed = slack.type_command("U0APPR", "C0WSUS", "/wsus", "approve 7", mode="http")
    assert typed.wait_ack(WAIT).http_status == 200
    assert seen.get(timeout=WAIT)["text"] == "approve 7"
    assert [e.text for e in slack.ephemerals("C0WSUS", "U0APPR")] == ["checking wsus01..."]

    report = slack.wait_for(lambda: slack.messages("C0WSUS"), WAIT, "the report")[0]
    clicked = slack.click_button("U0APPR", "C0WSUS", report.ts, "approve", mode="http")
    assert clicked.wait_ack(WAIT).http_status == 200
    body = seen.get(timeout=WAIT)
    assert body["actions"][0]["value"] == "approval-7"
    assert body["user"]["id"] == "U0APPR"
    slack.wait_for(lambda: slack.responses(clicked.id), WAIT, "the response_url post")
    (post,) = slack.responses(clicked.id)
    assert post.response_type == "in_channel"
    assert [m.text for m in slack.messages("C0WSUS")] == ["report", "approved"]


def test_retry_headers_reach_the_listener(slack: LocalSlack, http_app: App) -> None:
    retry_nums: queue.Queue[str | None] = queue.Queue()

    @http_app.command("/wsus")
    def on_wsus(ack: Ack, request: BoltRequest) -> None:
        ack()
        retry_nums.put(request.headers.get("x-slack-retry-num", [None])[0])

    delivery = slack.type_command("U0OPER", "C0WSUS", "/wsus", "check", mode="http", retry=True)
    assert delivery.wait_ack(WAIT).http_status == 200
    assert retry_nums.get(timeout=WAIT) == "1"
    assert delivery.attempts[0].retry_reason == "http_timeout"


@pytest.mark.parametrize("tamper", ["bad_signature", "stale_timestamp"])
def test_bolt_rejects_tampered_requests(slack: LocalSlack, http_app: App, tamper: Any) -> None:
    reached: list[str] = []

    @http_app.command("/wsus")
    def on_wsus(ack: Ack) -> None:
        reached.append("listener")
        ack()

    delivery = slack.type_command("U0OPER", "C0WSUS", "/wsus", "x", mode="http", tamper=tamper)
    assert delivery.wait_ack(WAIT).http_status == 401
    assert reached == []
    assert slack.ephemerals("C0WSUS") == []


def test_http_delivery_without_a_bot_url_fails_clearly(slack: LocalSlack) -> None:
    delivery = slack.type_command("U0OPER", "C0WSUS", "/wsus", "x", mode="http")
    with pytest.raises(ConnectionError, match="no http_bot_url"):
        delivery.wait_ack(WAIT)


def test_tampering_is_refused_in_socket_mode(slack: LocalSlack) -> None:
    with pytest.raises(ValueError, match="HTTP mode"):
        slack.type_command("U0OPER", "C0WSUS", "/wsus", "x", tamper="bad_signature")
