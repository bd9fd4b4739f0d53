"""The digest chart: the day counts it is drawn from, and a real PNG of the right size."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from PIL import Image

from bot.digest.causes import ORDER, Cause
from bot.digest.chart import (
    COLOURS,
    DAYS,
    HEIGHT,
    MARGINS,
    WIDTH,
    cause_history,
    chart_filename,
    render_png,
)

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_one_bar_a_day_from_the_days_newest_run_each_host_once() -> None:
    runs = [
        (NOW - timedelta(days=1, hours=2), {"a": ["stale_sync"]}),
        # the newest run of that day stands for it
        (NOW - timedelta(days=1), {"a": ["stale_sync", "iis_failures"], "b": ["old_agent"]}),
        (NOW, {"c": ["detection_stalled"]}),
        # outside the 30 days: not drawn
        (NOW - timedelta(days=DAYS), {"z": ["stale_sync"]}),
        # a cause this version does not know is ignored, not a crash
        (NOW - timedelta(days=3), {"y": ["from_the_future"]}),
    ]
    history = cause_history("morning", runs, NOW)
    assert len(history.days) == DAYS
    assert history.days[-1].day == NOW.date()
    assert history.days[0].day == (NOW - timedelta(days=DAYS - 1)).date()
    yesterday = history.days[-2].counts
    assert yesterday is not None
    # a host with two causes counts once, under its first cause in the digest's order
    assert yesterday[Cause.IIS_FAILURES] == 1
    assert yesterday[Cause.STALE_SYNC] == 0
    assert yesterday[Cause.OLD_AGENT] == 1
    assert history.days[-2].total == 2
    assert history.days[-1].total == 1
    assert history.days[-3].counts is None
    assert history.days[-4].total == 0
    assert history.peak == 2


def test_naive_times_are_taken_as_utc() -> None:
    naive = (NOW - timedelta(days=2)).replace(tzinfo=None)
    history = cause_history("d", [(naive, {"a": ["old_agent"]})], NOW)
    assert history.days[-3].total == 1


def _png(history_runs: list[tuple[datetime, dict[str, list[str]]]]) -> Image.Image:
    data = render_png(cause_history("morning", history_runs, NOW))
    assert data.startswith(PNG_SIGNATURE)
    image = Image.open(io.BytesIO(data))
    image.load()
    assert image.format == "PNG"
    assert image.size == (WIDTH, HEIGHT)
    return image


def _bar_pixels(image: Image.Image) -> dict[Cause, int]:
    """Pixels of each cause's colour inside the plot area only: the legend (right of it)
    paints every cause's swatch whatever the bars are, and text antialiasing leaves a few
    greys of STALE_SYNC's shade."""
    left, top, right_margin, bottom_margin = MARGINS
    plot = image.convert("RGB").crop((left, top, WIDTH - right_margin, HEIGHT - bottom_margin))
    found = {colour: count for count, colour in plot.getcolors(maxcolors=1 << 16) or []}
    return {cause: found.get(COLOURS[cause], 0) for cause in ORDER}


#: fewer pixels than the narrowest one-host bar: what antialiasing may leave
NOT_A_BAR = 100


def test_the_png_is_valid_sized_and_shows_every_cause_drawn() -> None:
    runs = [
        (NOW - timedelta(days=d), {f"h{d}-{c.value}": [c.value] for c in ORDER})
        for d in range(0, 20, 2)
    ]
    for cause, pixels in _bar_pixels(_png(runs)).items():
        assert pixels > NOT_A_BAR, f"no bar of {cause.value}"


def test_one_cause_draws_only_its_own_bar() -> None:
    pixels = _bar_pixels(_png([(NOW, {"a": ["old_agent"]})]))
    assert pixels.pop(Cause.OLD_AGENT) > NOT_A_BAR
    assert all(count < NOT_A_BAR for count in pixels.values())


def test_an_empty_history_still_renders_with_no_bar() -> None:
    assert all(count < NOT_A_BAR for count in _bar_pixels(_png([])).values())


def test_filename_is_safe() -> None:
    assert chart_filename("morning/../x", NOW) == "wsus-digest-morning____x-20261201-causes.png"
