"""What the local Slack remembers: messages, ephemerals, views, files and every call.

One lock guards everything; readers get deep copies so tests can never observe (or cause)
a half-applied change.
"""

from __future__ import annotations

import copy
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any

JsonDict = dict[str, Any]


@dataclass
class MessageVersion:
    text: str
    blocks: list[JsonDict]
    edited_ts: str


@dataclass
class Message:
    channel: str
    ts: str
    user: str
    text: str
    blocks: list[JsonDict]
    thread_ts: str | None = None
    bot_id: str | None = None
    files: list[str] = field(default_factory=list)
    edits: list[MessageVersion] = field(default_factory=list)
    deleted: bool = False
    metadata: JsonDict | None = None

    def to_api(self) -> JsonDict:
        """The message as Slack returns it (and as interaction payloads carry it)."""
        body: JsonDict = {
            "type": "message",
            "ts": self.ts,
            "user": self.user,
            "text": self.text,
            "blocks": copy.deepcopy(self.blocks),
        }
        if self.bot_id is not None:
            body["bot_id"] = self.bot_id
        if self.thread_ts is not None:
            body["thread_ts"] = self.thread_ts
        if self.edits:
            body["edited"] = {"user": self.user, "ts": self.edits[-1].edited_ts}
        if self.files:
            body["files"] = [{"id": file_id} for file_id in self.files]
        if self.metadata is not None:
            body["metadata"] = copy.deepcopy(self.metadata)
        return body


@dataclass
class Ephemeral:
    channel: str
    user: str
    ts: str
    text: str
    blocks: list[JsonDict]
    thread_ts: str | None = None
    source: str = "chat.postEphemeral"


@dataclass
class View:
    id: str
    user: str
    view: JsonDict
    kind: str  # "modal" (views.open) or "home" (views.publish)
    hash: str
    versions: list[JsonDict] = field(default_factory=list)
    closed: bool = False
    #: the ``errors`` of each submission the app answered with ``response_action: errors``
    errors: list[JsonDict] = field(default_factory=list)


@dataclass
class UploadedFile:
    id: str
    filename: str
    length: int
    content: bytes | None = None
    title: str | None = None
    channel: str | None = None
    thread_ts: str | None = None
    initial_comment: str | None = None
    completed: bool = False


@dataclass(frozen=True)
class ApiCall:
    method: str
    params: JsonDict
    ok: bool
    error: str | None
    http_status: int
    at: float


@dataclass(frozen=True)
class ResponseUrlPost:
    """A POST a bot made to a command's or interaction's response_url."""

    delivery_id: str
    user: str
    channel: str
    body: JsonDict
    response_type: str  # "ephemeral" or "in_channel"
    replace_original: bool
    delete_original: bool
    at: float


class TsClock:
    """Unique, strictly increasing message timestamps in Slack's "seconds.micros" form."""

    def __init__(self, start_seconds: int | None = None) -> None:
        start = int(time.time()) if start_seconds is None else start_seconds
        self._micros = itertools.count(start * 1_000_000 + 100, 100)

    def next(self) -> str:
        value = next(self._micros)
        return f"{value // 1_000_000}.{value % 1_000_000:06d}"


class ConversationState:
    """All mutable state; every method takes the lock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.clock = TsClock()
        self._ids = itertools.count(1)
        self.messages: dict[str, list[Message]] = {}
        self.ephemerals: list[Ephemeral] = []
        self.views: dict[str, View] = {}
        self.files: dict[str, UploadedFile] = {}
        self.calls: list[ApiCall] = []
        self.response_posts: list[ResponseUrlPost] = []
        self.trigger_ids: dict[str, str] = {}  # trigger_id -> user id
        self.rate_limits: dict[str, int] = {}

    def new_id(self, prefix: str) -> str:
        with self.lock:
            return f"{prefix}0LAB{next(self._ids):06d}"

    def find_message(self, channel: str, ts: str) -> Message | None:
        with self.lock:
            return next(
                (m for m in self.messages.get(channel, []) if m.ts == ts and not m.deleted), None
            )

    def add_message(self, message: Message) -> None:
        with self.lock:
            self.messages.setdefault(message.channel, []).append(message)

    def take_rate_limit(self, method: str) -> bool:
        """True when this call of `method` must be answered with HTTP 429."""
        with self.lock:
            remaining = self.rate_limits.get(method, 0)
            if remaining <= 0:
                return False
            self.rate_limits[method] = remaining - 1
            return True

    def snapshot(self, value: Any) -> Any:
        with self.lock:
            return copy.deepcopy(value)
