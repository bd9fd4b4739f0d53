"""The digest's picture: stalled clients by cause over the last 30 days, as a PNG.

One stacked bar a day, from the day's last digest run (the stored history, plus the run
being posted). A host with several causes is counted once, under its first cause in
:data:`bot.digest.causes.ORDER` (the order the digest lists causes in), so a bar's height
is the number of stalled clients that day. Days without a run have no bar.

Drawn with Pillow on an in-memory image: no display, no font files from the system
(Pillow's bundled default font, scalable since Pillow 10.1:
https://pillow.readthedocs.io/en/stable/reference/ImageFont.html#PIL.ImageFont.load_default).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from PIL import Image, ImageDraw, ImageFont

from bot.digest.causes import ORDER, TITLES, Cause

DAYS = 30
WIDTH = 1040
HEIGHT = 500
#: plot area inside the image: left, top, right, bottom margins (the legend is right)
MARGINS = (64, 56, 330, 56)
COLOURS: Mapping[Cause, tuple[int, int, int]] = {
    Cause.IIS_FAILURES: (214, 39, 40),
    Cause.DETECTION_STALLED: (255, 127, 14),
    Cause.RESET_NOT_RECOVERED: (148, 103, 189),
    Cause.OLD_AGENT: (31, 119, 180),
    Cause.STALE_SYNC: (127, 127, 127),
}
INK = (33, 33, 33)
GRID = (225, 225, 225)
BACKGROUND = (255, 255, 255)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True, slots=True)
class DayCounts:
    day: date
    #: stalled clients per cause (first cause of each host); None = no run that day
    counts: Mapping[Cause, int] | None

    @property
    def total(self) -> int:
        return sum(self.counts.values()) if self.counts else 0


@dataclass(frozen=True, slots=True)
class CauseHistory:
    digest_id: str
    days: tuple[DayCounts, ...]

    @property
    def peak(self) -> int:
        return max((d.total for d in self.days), default=0)


def _first_cause(causes: Iterable[str]) -> Cause | None:
    known = {c.value for c in Cause}
    present = {c for c in causes if c in known}
    return next((cause for cause in ORDER if cause.value in present), None)


def _counts(stalled: Mapping[str, Sequence[str]]) -> dict[Cause, int]:
    counts = dict.fromkeys(ORDER, 0)
    for causes in stalled.values():
        cause = _first_cause(causes)
        if cause is not None:
            counts[cause] += 1
    return counts


def _utc_day(moment: datetime) -> date:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).date()


def cause_history(
    digest_id: str,
    runs: Iterable[tuple[datetime, Mapping[str, Sequence[str]]]],
    now: datetime,
    days: int = DAYS,
) -> CauseHistory:
    """The last ``days`` days (today included) from (run time, host -> causes) pairs in
    any order; the newest run of a day stands for the day."""
    last = _utc_day(now)
    first = last - timedelta(days=days - 1)
    newest: dict[date, tuple[datetime, Mapping[str, Sequence[str]]]] = {}
    for moment, stalled in runs:
        day = _utc_day(moment)
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        if first <= day <= last and (day not in newest or newest[day][0] <= aware):
            newest[day] = (aware, stalled)
    return CauseHistory(
        digest_id,
        tuple(
            DayCounts(
                first + timedelta(days=n),
                _counts(newest[first + timedelta(days=n)][1])
                if first + timedelta(days=n) in newest
                else None,
            )
            for n in range(days)
        ),
    )


def _font(size: int) -> Font:
    return ImageFont.load_default(size=size)


def _ticks(peak: int) -> list[int]:
    """0 and a few round steps up to at least ``peak`` (1, 2, 5 × 10ⁿ)."""
    top = max(peak, 1)
    step = 1
    while top / step > 5:
        for factor in (2, 5, 10):
            if top / (step * factor) <= 5:
                step *= factor
                break
        else:
            step *= 10
    return list(range(0, top + step, step))


def render_png(history: CauseHistory) -> bytes:
    """The chart as PNG bytes, WIDTH × HEIGHT pixels."""
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    left, top, right_margin, bottom_margin = MARGINS
    right, bottom = WIDTH - right_margin, HEIGHT - bottom_margin
    title_font, font = _font(18), _font(13)
    draw.text(
        (left, 16),
        f"Stalled clients by cause, last {len(history.days)} days · {history.digest_id}",
        fill=INK,
        font=title_font,
    )
    ticks = _ticks(history.peak)
    scale = (bottom - top) / ticks[-1]
    for tick in ticks:
        y = bottom - tick * scale
        draw.line([(left, y), (right, y)], fill=GRID, width=1)
        draw.text((left - 8, y), str(tick), fill=INK, font=font, anchor="rm")
    draw.line([(left, top), (left, bottom), (right, bottom)], fill=INK, width=1)
    slot = (right - left) / max(len(history.days), 1)
    for index, day in enumerate(history.days):
        x0 = left + index * slot + slot * 0.15
        x1 = left + (index + 1) * slot - slot * 0.15
        if day.counts is not None:
            y = float(bottom)
            for cause in ORDER:
                count = day.counts.get(cause, 0)
                if count:
                    height = count * scale
                    draw.rectangle([(x0, y - height), (x1, y)], fill=COLOURS[cause])
                    y -= height
        # a date every five days, and the last day always
        if index % 5 == 0 or index == len(history.days) - 1:
            draw.text(
                ((x0 + x1) / 2, bottom + 8),
                f"{day.day:%m-%d}",
                fill=INK,
                font=font,
                anchor="mt",
            )
    if not any(d.counts is not None for d in history.days):
        draw.text(
            ((left + right) / 2, (top + bottom) / 2),
            "no digest runs in this period",
            fill=INK,
            font=font,
            anchor="mm",
        )
    legend_x, legend_y = right + 24, top
    draw.text((legend_x, legend_y), "first cause of each host", fill=INK, font=font)
    for n, cause in enumerate(ORDER):
        y = legend_y + 28 + n * 24
        draw.rectangle([(legend_x, y), (legend_x + 14, y + 14)], fill=COLOURS[cause])
        draw.text((legend_x + 22, y + 7), TITLES[cause], fill=INK, font=font, anchor="lm")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def chart_filename(digest_id: str, now: datetime) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in digest_id)[:64]
    return f"wsus-digest-{safe}-{_utc_day(now):%Y%m%d}-causes.png"
