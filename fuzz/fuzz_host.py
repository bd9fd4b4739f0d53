"""Fuzz the host validator: nothing but a DNS name or an IP address gets through."""

from __future__ import annotations

import ipaddress

from _common import fuzz, text_of

from bot.inventory import validate_host_argument
from checks.errors import UsageError


def test_one(data: bytes) -> None:
    text = text_of(data)
    try:
        host = validate_host_argument(text)
    except UsageError:
        return
    try:
        ipaddress.ip_address(host)
    except ValueError:
        labels = host.split(".")
        assert all(0 < len(label) <= 63 for label in labels), host
        assert all(c.isascii() and (c.isalnum() or c == "-") for c in host.replace(".", "")), host
    else:
        zone = host.partition("%")[2]
        assert all(c.isascii() and (c.isalnum() or c in "._~-") for c in zone), host


if __name__ == "__main__":
    fuzz(test_one)
