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


def refusal(text: str) -> Message:
    return Message(text=text, blocks=[section(f":no_entry: {escape(text)}")])


def notice(text: str) -> Message:
    return Message(text=text, blocks=[section(escape(text))])
