from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from lab.slack import LocalSlack

# Short enough that a redelivery test stays quick, long enough for a loaded 2-core machine.
TEST_ACK_TIMEOUT = 1.0


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
