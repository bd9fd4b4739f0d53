"""Fuzz the ``/wsus`` grammar: whatever a Slack user types."""

from __future__ import annotations

from _common import fuzz, text_of

from bot.commands import parse
from checks.errors import UsageError


def test_one(data: bytes) -> None:
    try:
        command = parse(text_of(data))
    except UsageError:
        return
    if command.host is not None:
        # a host that got through has only the characters a host name or address has
        assert all(c.isalnum() or c in ".-:%_~" for c in command.host), command.host


if __name__ == "__main__":
    fuzz(test_one)
