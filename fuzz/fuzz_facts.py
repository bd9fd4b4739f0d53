"""Fuzz the facts parser: any bytes a host (or a file) hands the bot."""

from __future__ import annotations

import contextlib

from _common import fuzz

from checks.errors import WsusbotError
from checks.facts import read_host_facts


def test_one(data: bytes) -> None:
    with contextlib.suppress(WsusbotError):
        read_host_facts(data)


if __name__ == "__main__":
    fuzz(test_one)
