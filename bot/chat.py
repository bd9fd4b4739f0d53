"""The chat port: the few things the use cases ask of Slack.

The use cases hand view models (:mod:`bot.views`) to a :class:`Chat`; ``bot/slack/chat.py``
implements it with slack_sdk's ``WebClient`` and Block Kit, and the unit tests with a fake
that records every call. Failures come back as :class:`ChatError`, never as a Slack type.
"""

from __future__ import annotations

from typing import Protocol

from bot.views import ChatMessage, HomeView, Modal
from checks.errors import WsusbotError

#: Slack error codes that mean "the bot cannot post there" (invite it, or pick a channel)
NOT_A_MEMBER = frozenset({"channel_not_found", "not_in_channel", "is_archived"})


class ChatError(WsusbotError):
    """Slack refused or could not take a call; ``code`` is Slack's error word."""

    exit_code = 1

    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(message or f"Slack refused the call: {code}")
        self.code = code

    @property
    def not_a_member(self) -> bool:
        return self.code in NOT_A_MEMBER


class Chat(Protocol):
    """Post / update / reply in thread / ephemeral / upload / home / modal, in view models."""

    def post(self, channel: str, message: ChatMessage, *, thread_ts: str | None = None) -> str:
        """Post (in a thread when ``thread_ts``); returns the first message's ts."""
        ...

    def update(self, channel: str, ts: str, message: ChatMessage) -> None: ...

    def ephemeral(self, channel: str, user: str, message: ChatMessage) -> None: ...

    def upload(
        self,
        channel: str,
        *,
        thread_ts: str | None,
        filename: str,
        content: str | bytes,
        title: str,
    ) -> None:
        """Share a file (text or bytes, e.g. a PNG) in the channel, or in a thread."""
        ...

    def publish_home(self, user: str, view: HomeView) -> None: ...

    def open_modal(self, trigger_id: str, modal: Modal) -> None:
        """Open a modal for the user whose click or shortcut issued ``trigger_id`` (Slack
        accepts it for 3 seconds)."""
        ...
