"""Fuzz the registry-time parser: strings a host's registry holds."""

from __future__ import annotations

import contextlib

from _common import fuzz, text_of

from checks.regtime import RegTimeError, parse_registry_time


def test_one(data: bytes) -> None:
    with contextlib.suppress(RegTimeError):
        parse_registry_time(text_of(data))


if __name__ == "__main__":
    fuzz(test_one)
