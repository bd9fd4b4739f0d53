from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from lab.clock import LabClock, iso_utc, parse_offset, registry_time


def test_relative_notation() -> None:
    assert parse_offset("now") == timedelta(0)
    assert parse_offset("now-45d") == -timedelta(days=45)
    assert parse_offset("now+26h") == timedelta(hours=26)
    assert parse_offset("now-1d6h") == -timedelta(days=1, hours=6)
    assert parse_offset("now - 2d + 3h") == -timedelta(hours=45)


@pytest.mark.parametrize("bad", ["later", "now3h", "now-", "now-3x", "yesterday"])
def test_bad_notation_names_the_accepted_form(bad: str) -> None:
    with pytest.raises(ValueError, match="now-45d"):
        parse_offset(bad)


def test_advance_moves_now_and_is_thread_safe() -> None:
    clock = LabClock()
    start = clock.now()
    threads = [
        threading.Thread(target=lambda: [clock.advance(timedelta(seconds=1)) for _ in range(100)])
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert clock.offset == timedelta(seconds=400)
    assert clock.now() - start >= timedelta(seconds=400)


def test_registry_and_iso_formats() -> None:
    moment = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    assert registry_time(moment) == "2026.03.04 05:06:07"
    assert registry_time(moment, timedelta(hours=9)) == "2026.03.04 14:06:07"
    assert iso_utc(moment) == "2026-03-04T05:06:07Z"
