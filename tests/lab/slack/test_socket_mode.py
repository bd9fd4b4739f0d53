from __future__ import annotations

import queue
import threading
from typing import Any

from slack_bolt import Ack, App, BoltRequest, Respond
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from slack_sdk.models.blocks import ActionsBlock, ButtonElement, SectionBlock

from lab.slack import LocalSlack

from .conftest import WAIT, bolt_app


def test_command_and_button_click(
    slack: LocalSlack, connected: tuple[App, SocketModeHandler]
) -> None:
    app, _handler = connected
    seen: queue.Queue[dict[str, Any]] = queue.Queue()

    @app.command("/wsus")
    def on_wsus(ack: Ack, command: dict[str, Any], client: WebClient) -> None:
        ack("checking wsus01...")
        blocks = [
            SectionBlock(text="wsus01: self-update broken"),
            ActionsBlock(
                block_id="fixes",
                elements=[
                    ButtonElement(text="Fix", action_id="fix", value="plan-1"),
                    ButtonElement(text="Fix other", action_id="fix", value="plan-2"),
                ],
            ),
        ]
        client.chat_postMessage(channel=command["channel_id"], text="report", blocks=blocks)
        seen.put(command)

    @app.action("fix")
    def on_fix(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        respond(replace_original=True, text="fixing with " + body["actions"][0]["value"])
        seen.put(body)

    typed = slack.type_command("U0OPER", "C0WSUS", "/wsus", "check wsus01")
    ack = typed.wait_ack(WAIT)
    command = seen.get(timeout=WAIT)
    assert (command["text"], command["user_id"], command["channel_id"]) == (
        "check wsus01",
        "U0OPER",
        "C0WSUS",
    )
    assert command["trigger_id"] == typed.trigger_id
    assert ack.payload == {"text": "checking wsus01..."}
    assert ack.latency >= 0
    assert [e.text for e in slack.ephemerals("C0WSUS", "U0OPER")] == ["checking wsus01..."]

    report = slack.wait_for(lambda: slack.messages("C0WSUS"), WAIT, "the report")[0]
    clicked = slack.click_button("U0OPER", "C0WSUS", report.ts, "fix", value="plan-2")
    body = seen.get(timeout=WAIT)
    assert body["container"]["message_ts"] == report.ts
    assert body["channel"]["id"] == "C0WSUS"
    assert body["message"]["ts"] == report.ts
    assert body["actions"][0]["block_id"] == "fixes"
    assert body["trigger_id"] == clicked.trigger_id
    clicked.wait_ack(WAIT)

    slack.wait_for(lambda: slack.responses(clicked.id), WAIT, "the response_url post")
    assert slack.message("C0WSUS", report.ts).text == "fixing with plan-2"
    assert slack.message("C0WSUS", report.ts).edits[0].text == "report"


def test_slow_ack_is_redelivered_with_retry_attempt(
    slack: LocalSlack, connected: tuple[App, SocketModeHandler]
) -> None:
    app, _handler = connected
    retries: queue.Queue[str | None] = queue.Queue()
    first_seen = threading.Event()
    release = threading.Event()

    @app.command("/wsus")
    def slow(ack: Ack, request: BoltRequest) -> None:
        retries.put(request.headers.get("x-slack-retry-num", [None])[0])
        if not first_seen.is_set():
            first_seen.set()
            # Holding the first ack past the deadline is what makes Slack redeliver.
            release.wait(WAIT)
        ack()

    delivery = slack.type_command("U0OPER", "C0WSUS", "/wsus", "check wsus01")
    attempts = delivery.wait_attempts(2, WAIT)
    assert [(a.retry_attempt, a.retry_reason) for a in attempts] == [(0, None), (1, "timeout")]
    release.set()
    delivery.wait_ack(WAIT)
    assert retries.get(timeout=WAIT) is None
    assert retries.get(timeout=WAIT) == "1"


def test_unacked_delivery_gives_up_after_three_retries(slack: LocalSlack) -> None:
    # Nobody is listening on the socket: the envelopes are sent but never acked.
    slack.ack_timeout = 0.2
    app = bolt_app(slack)
    handler = SocketModeHandler(app, slack.app_token)
    handler.client.socket_mode_request_listeners.clear()
    handler.connect()  # type: ignore[no-untyped-call]
    try:
        slack.wait_for_socket(WAIT)
        delivery = slack.type_command("U0OPER", "C0WSUS", "/wsus", "check wsus01")
        slack.wait_for(lambda: delivery.errors, WAIT, "giving up")
    finally:
        handler.close()  # type: ignore[no-untyped-call]
    assert [a.retry_attempt for a in delivery.attempts] == [0, 1, 2, 3]
    assert delivery.errors == ["not acked"]
    assert not delivery.acked


def test_disconnect_makes_the_client_reconnect(
    slack: LocalSlack, connected: tuple[App, SocketModeHandler]
) -> None:
    app, _handler = connected
    seen: queue.Queue[str] = queue.Queue()

    @app.command("/wsus")
    def on_wsus(ack: Ack, command: dict[str, Any]) -> None:
        ack()
        seen.put(command["text"])

    slack.disconnect_socket()
    # the builtin client may open more than one connection while it reconnects and close
    # the extras: type only once exactly one new connection remains
    slack.wait_for(
        lambda: slack.socket_connections_opened >= 2 and slack.socket_connections == 1,
        WAIT,
        "a settled reconnect",
    )
    slack.type_command("U0OPER", "C0WSUS", "/wsus", "after reconnect").wait_ack(WAIT)
    assert seen.get(timeout=WAIT) == "after reconnect"


def test_command_typed_before_connecting_waits_for_the_socket(slack: LocalSlack) -> None:
    app = bolt_app(slack)
    seen: queue.Queue[str] = queue.Queue()

    @app.command("/wsus")
    def on_wsus(ack: Ack, command: dict[str, Any]) -> None:
        ack()
        seen.put(command["text"])

    delivery = slack.type_command("U0OPER", "C0WSUS", "/wsus", "early")
    handler = SocketModeHandler(app, slack.app_token)
    handler.connect()  # type: ignore[no-untyped-call]
    try:
        delivery.wait_ack(WAIT)
        assert seen.get(timeout=WAIT) == "early"
    finally:
        handler.close()  # type: ignore[no-untyped-call]
