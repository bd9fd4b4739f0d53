"""SocketModeRunner.stop never hangs on slack_sdk's close race (seen in CI)."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

from bot.slack.serve import SocketModeRunner


class RacingHandler:
    """close() behaves as slack_sdk's builtin client does when its session thread re-enters
    a session just as close() set ``terminated``: the flag is reset, and close() waits for
    the session loop, which only ends once ``terminated`` is True again."""

    def __init__(self) -> None:
        self.client = SimpleNamespace(current_session_state=SimpleNamespace(terminated=False))
        self.closed = threading.Event()

    def close(self) -> None:
        state = self.client.current_session_state
        state.terminated = True
        time.sleep(0.05)
        state.terminated = False  # the session thread re-entered and reset it
        while not state.terminated:
            time.sleep(0.01)
        self.closed.set()


def test_stop_survives_the_close_race() -> None:
    runner = SocketModeRunner.__new__(SocketModeRunner)
    handler = RacingHandler()
    runner._handler = handler  # type: ignore[assignment]
    started = time.monotonic()
    runner.stop(timeout=10)
    assert handler.closed.is_set()
    assert time.monotonic() - started < 10


def test_stop_is_bounded_when_close_never_returns() -> None:
    runner = SocketModeRunner.__new__(SocketModeRunner)
    stuck = threading.Event()
    runner._handler = SimpleNamespace(  # type: ignore[assignment]
        client=SimpleNamespace(current_session_state=None), close=lambda: stuck.wait(30)
    )
    started = time.monotonic()
    runner.stop(timeout=0.5)
    assert time.monotonic() - started < 5
    stuck.set()
