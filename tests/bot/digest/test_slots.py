"""The schedule slot a digest run belongs to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.config import DigestConfig
from bot.usecases.digest import manual_slot, minute_slot, scheduled_slot

MORNING = DigestConfig(id="m", channel="C1", cron="0 8 * * 1-5", timezone="Europe/Paris")


def test_on_time_and_late_runs_share_the_slot() -> None:
    fire = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)  # 08:00 in Paris
    on_time = scheduled_slot(MORNING, fire + timedelta(milliseconds=40))
    late = scheduled_slot(MORNING, fire + timedelta(minutes=47, seconds=13))
    assert on_time == late == "2026-11-25T07:00Z"


def test_the_next_day_is_another_slot() -> None:
    fire = datetime(2026, 11, 26, 7, 0, 5, tzinfo=UTC)
    assert scheduled_slot(MORNING, fire) == "2026-11-26T07:00Z"


def test_outside_any_slot_the_minute_is_the_slot() -> None:
    now = datetime(2026, 11, 28, 15, 42, 31, tzinfo=UTC)  # a Saturday afternoon
    assert scheduled_slot(MORNING, now) == minute_slot(now) == "2026-11-28T15:42Z"


def test_every_minute_cron() -> None:
    every = DigestConfig(id="e", channel="C1", cron="* * * * *")
    now = datetime(2026, 11, 25, 9, 13, 59, tzinfo=UTC)
    assert scheduled_slot(every, now) == "2026-11-25T09:13Z"


def test_manual_slots_are_unique() -> None:
    first, second = manual_slot(), manual_slot()
    assert first.startswith("manual:")
    assert first != second
