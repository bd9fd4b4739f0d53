"""Fuzz the W3C extended log parser: lines from a WSUS server's IIS logs."""

from __future__ import annotations

from _common import fuzz

from checks.errors import WsusbotError
from checks.w3c import iter_records


def test_one(data: bytes) -> None:
    lines = data.decode("utf-8", errors="replace").splitlines()
    try:
        for record in iter_records(lines):
            _ = record.fields
    except WsusbotError:
        pass


if __name__ == "__main__":
    fuzz(test_one)
