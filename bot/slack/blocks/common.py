"""Shared Block Kit pieces: the message type, escaping, Slack's size limits.

Everything a host or user wrote is escaped, so facts cannot ping a channel or forge a
link, and every piece is cut to Slack's limits (section text 3,000 characters, header
150, 50 blocks a message: https://api.slack.com/reference/block-kit/blocks)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from checks.model import Status

SECTION_LIMIT = 3000
HEADER_LIMIT = 150
BLOCKS_PER_MESSAGE = 50
#: a Home tab view holds at most 100 blocks
BLOCKS_PER_VIEW = 100
FALLBACK_LIMIT = 3000
BUTTON_TEXT_LIMIT = 75

EMOJI = {
    Status.PASS: ":white_check_mark:",
    Status.WARN: ":warning:",
    Status.FAIL: ":x:",
    Status.UNKNOWN: ":grey_question:",
    Status.SKIP: ":heavy_minus_sign:",
}


def escape(text: str) -> str:
    """Slack mrkdwn control characters (mentions, links) made literal."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def escape_clipped(text: str, limit: int) -> str:
    """``escape(text)`` cut to ``limit`` characters without splitting an entity (escaping
    can make a text five times longer, so clipping first is not enough)."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    pieces: list[str] = []
    size = 0
    for char in text:
        piece = escape(char)
        if size + len(piece) > limit - 1:
            break
        pieces.append(piece)
        size += len(piece)
    return "".join(pieces) + "…"


def mention(user: str) -> str:
    """A Slack user id as a mention; CLI users ("cli:alice") and "wsusbot" as written."""
    if user[:1] in ("U", "W") and user.isalnum():
        return f"<@{user}>"
    return escape(user)


def md(text: str) -> MarkdownTextObject:
    return MarkdownTextObject(text=clip(text, SECTION_LIMIT))


def header(text: str) -> HeaderBlock:
    return HeaderBlock(text=PlainTextObject(text=clip(text, HEADER_LIMIT), emoji=True))


def context(text: str) -> ContextBlock:
    return ContextBlock(elements=[md(text)])


def section(text: str, **kwargs: Any) -> SectionBlock:
    return SectionBlock(text=md(text), **kwargs)


@dataclass(frozen=True, slots=True)
class Message:
    """What chat.postMessage / chat.update take: fallback text plus blocks."""

    text: str
    blocks: list[Block]

    def as_kwargs(self) -> dict[str, Any]:
        return {
            "text": clip(self.text, FALLBACK_LIMIT),
            "blocks": [block.to_dict() for block in self.blocks[:BLOCKS_PER_MESSAGE]],
        }


def refusal(text: str, channels: tuple[str, ...] = ()) -> Message:
    """Why nothing ran; ``channels`` are named as channel links after the text."""
    shown = escape_clipped(text, SECTION_LIMIT - 200)
    if channels:
        shown += " " + ", ".join(f"<#{channel_link(c)}>" for c in channels[:10])
    return Message(text=shown, blocks=[section(f":no_entry: {shown}")])


def notice(text: str) -> Message:
    shown = escape_clipped(text, SECTION_LIMIT)
    return Message(text=shown, blocks=[section(shown)])


def channel_link(channel: str) -> str:
    """A channel id fit for ``<#…>`` (ids are upper-case letters and digits)."""
    return "".join(c for c in channel if c.isalnum())[:32]
