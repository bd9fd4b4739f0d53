from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient

from lab.slack import LocalSlack

# Short enough that a redelivery test stays quick, long enough for a loaded 2-core machine
# (1 s proved too short once under a full CI run).
TEST_ACK_TIMEOUT = 2.0
WAIT = 10.0


@pytest.fixture
def slack() -> Iterator[LocalSlack]:
    local = LocalSlack(ack_timeout=TEST_ACK_TIMEOUT, socket_ping_interval=0.2).start()
    try:
        yield local
    finally:
        local.stop()
    assert not any(t.name == "lab-slack" and t.is_alive() for t in threading.enumerate())


@pytest.fixture
def web_client(slack: LocalSlack) -> WebClient:
    return WebClient(token=slack.bot_token, base_url=slack.api_url, timeout=10)


def bolt_app(slack: LocalSlack) -> App:
    client = WebClient(token=slack.bot_token, base_url=slack.api_url, timeout=10)
    return App(client=client, signing_secret=slack.signing_secret)


@pytest.fixture
def connected(slack: LocalSlack) -> Iterator[tuple[App, SocketModeHandler]]:
    app = bolt_app(slack)
    handler = SocketModeHandler(app, slack.app_token)
    # Bolt registers listeners before connecting; tests add theirs to `app` before typing.
    handler.connect()  # type: ignore[no-untyped-call]
    try:
        slack.wait_for_socket(WAIT)
        yield app, handler
    finally:
        handler.close()  # type: ignore[no-untyped-call]
