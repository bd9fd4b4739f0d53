"""In-memory stand-ins for the bot's ports, for unit tests of the use cases.

:class:`FakeChat` implements :class:`bot.chat.Chat`: it records every call with the view
model it was given, hands out increasing ``ts`` strings, and can be told to fail the next
N calls of a kind with a :class:`~bot.chat.ChatError`. :class:`FakeClock` is a fixed clock
the test moves. :class:`RecordingWorker` stands in for :class:`bot.worker.Worker`: it
records what was submitted and never runs it (no host is ever touched).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar

from bot.chat import ChatError
from bot.views import ChatMessage, HomeView, Modal

T = TypeVar("T")
V = TypeVar("V")

CallKind = Literal["post", "update", "ephemeral", "upload", "publish_home", "open_modal"]
KINDS: tuple[CallKind, ...] = (
    "post",
    "update",
    "ephemeral",
    "upload",
    "publish_home",
    "open_modal",
)

#: where FakeClock starts unless told otherwise (the checks' test factories use this day)
START = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ChatCall:
    """One call made to the chat port, as the use case made it."""

    kind: CallKind
    channel: str | None
    #: the message's ts: the new one for a post, the edited one for an update
    ts: str | None
    thread_ts: str | None
    #: the view model (ChatMessage or HomeView); None for uploads
    message: Any
    user: str | None = None
    #: the ChatError code this call was made to fail with; None when it succeeded
    failed: str | None = None
    #: upload details (filename, content, title)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.failed is None


class FakeChat:
    """The chat port in memory. Thread-safe: the worker may post from its own thread."""

    def __init__(self, *, first_ts: int = 1_764_072_000) -> None:
        self._lock = threading.Lock()
        self._seconds = first_ts
        self._counter = 0
        self._failures: dict[CallKind, deque[str]] = {kind: deque() for kind in KINDS}
        self.calls: list[ChatCall] = []

    # ------------------------------------------------------------ test controls

    def fail_next(self, kind: CallKind, code: str, times: int = 1) -> None:
        """The next ``times`` calls of ``kind`` raise ``ChatError(code)`` (and are recorded)."""
        if kind not in KINDS:
            raise ValueError(f"unknown chat call kind {kind!r}")
        with self._lock:
            self._failures[kind].extend([code] * times)

    def of(self, kind: CallKind | None = None, *, ok: bool | None = True) -> list[ChatCall]:
        """Calls of ``kind`` (all kinds when None); ``ok`` None includes the failed ones."""
        with self._lock:
            calls = list(self.calls)
        return [c for c in calls if (kind is None or c.kind == kind) and (ok is None or c.ok is ok)]

    def views(self, view_type: type[V], kind: CallKind | None = None) -> list[V]:
        """The view models of type ``view_type`` that went out successfully, in order."""
        return [c.message for c in self.of(kind) if isinstance(c.message, view_type)]

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()

    # ------------------------------------------------------------ internals

    def _next_ts(self) -> str:
        self._counter += 1
        return f"{self._seconds + self._counter}.{self._counter:06d}"

    def _call(
        self,
        kind: CallKind,
        *,
        channel: str | None,
        message: Any,
        thread_ts: str | None = None,
        ts: str | None = None,
        user: str | None = None,
        extra: dict[str, Any] | None = None,
        new_ts: bool = False,
    ) -> str | None:
        with self._lock:
            failures = self._failures[kind]
            code = failures.popleft() if failures else None
            if code is None and new_ts:
                ts = self._next_ts()
            self.calls.append(
                ChatCall(
                    kind=kind,
                    channel=channel,
                    ts=None if code is not None and new_ts else ts,
                    thread_ts=thread_ts,
                    message=message,
                    user=user,
                    failed=code,
                    extra=dict(extra or {}),
                )
            )
        if code is not None:
            raise ChatError(code)
        return ts

    # ------------------------------------------------------------ the Chat protocol

    def post(self, channel: str, message: ChatMessage, *, thread_ts: str | None = None) -> str:
        ts = self._call("post", channel=channel, message=message, thread_ts=thread_ts, new_ts=True)
        assert ts is not None
        return ts

    def update(self, channel: str, ts: str, message: ChatMessage) -> None:
        self._call("update", channel=channel, message=message, ts=ts)

    def ephemeral(self, channel: str, user: str, message: ChatMessage) -> None:
        self._call("ephemeral", channel=channel, message=message, user=user)

    def upload(
        self,
        channel: str,
        *,
        thread_ts: str | None,
        filename: str,
        content: str | bytes,
        title: str,
    ) -> None:
        self._call(
            "upload",
            channel=channel,
            message=None,
            thread_ts=thread_ts,
            extra={"filename": filename, "content": content, "title": title},
        )

    def publish_home(self, user: str, view: HomeView) -> None:
        self._call("publish_home", channel=None, message=view, user=user)

    def open_modal(self, trigger_id: str, modal: Modal) -> None:
        self._call("open_modal", channel=None, message=modal, extra={"trigger_id": trigger_id})


class FakeClock:
    """A fixed clock: returns the same moment until the test sets or advances it."""

    __test__ = False

    def __init__(self, start: datetime = START) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        with self._lock:
            self._now = moment

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now


@dataclass(frozen=True, slots=True)
class Job:
    """A coroutine handed to the worker: its function's name and the arguments it got."""

    name: str
    args: dict[str, Any]


class RecordingWorker:
    """Stands in for :class:`bot.worker.Worker`: records submitted jobs, never runs them.

    Each coroutine is closed at once (so no "never awaited" warning), after its function
    name and arguments are recorded."""

    def __init__(self) -> None:
        self.jobs: list[Job] = []
        self._started = False

    @property
    def running(self) -> bool:
        return self._started

    def start(self) -> RecordingWorker:
        self._started = True
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._started = False

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        frame = getattr(coroutine, "cr_frame", None)
        args = dict(frame.f_locals) if frame is not None else {}
        self.jobs.append(Job(getattr(coroutine, "__qualname__", repr(coroutine)), args))
        coroutine.close()
        future: Future[T] = Future()
        future.cancel()
        return future

    def call(self, factory: Callable[[], Awaitable[T]], timeout: float | None = None) -> T:
        raise RuntimeError("RecordingWorker runs nothing")

    def pending(self) -> int:
        return 0

    def drain(self, timeout: float = 30.0) -> None:
        return None

    def named(self, name: str) -> list[Job]:
        return [job for job in self.jobs if job.name == name]
