"""Registry time strings written by Automatic Updates (``DetectionStartTime``,
``LastWaitTimeout`` under ``...\\CurrentVersion\\WindowsUpdate\\Auto Update``).

Microsoft's text names the form ``YYYY.MM.DD HH.MM.SS`` (Cc708554 §10, dd939801), but real
values carry colons in the time: smallvoid.com quotes ``DetectionStartTime =
"2003.09.10 12:38:10"`` and ``LastWaitTimeout= "2003.09.10 11:43:10"``
(http://smallvoid.com/article/winnt-automatic-updates-config.html, also in the repository
snakefoot/smallvoid.github.io, article/winnt-automatic-updates-config.html.md). Both forms
are accepted; :func:`format_registry_time` writes the real (colon) one.

``LastWaitTimeout`` is written in UTC ("GMT Time" in the sample above, "UTC" in Cc708554
§10); ``DetectionStartTime`` in the host's local time, and the facts carry no UTC offset
for the host, so that one stays naive.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from checks.errors import FactsError

# the time's two separators are the same character: ':' as written, '.' as documented
_REGISTRY_TIME = re.compile(
    r"(\d{4})\.(\d{1,2})\.(\d{1,2}) (\d{1,2})([.:])(\d{1,2})\5(\d{1,2})",
    re.ASCII,
)


class RegTimeError(FactsError):
    """A registry time string is empty, malformed or out of range."""


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


def parse_registry_time(text: str) -> datetime:
    """Parse to a naive datetime (the caller knows whether it is UTC or local time)."""
    stripped = text.strip()
    if not stripped:
        raise RegTimeError("registry time is empty")
    match = _REGISTRY_TIME.fullmatch(stripped)
    if match is None:
        raise RegTimeError(
            f"registry time {_shown(text)} is not in the form YYYY.MM.DD HH:MM:SS "
            "(or YYYY.MM.DD HH.MM.SS)"
        )
    year, month, day, hour, _, minute, second = match.groups()
    try:
        return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second))
    except ValueError as exc:
        raise RegTimeError(f"registry time {_shown(text)} is out of range: {exc}") from None


def parse_utc_registry_time(text: str) -> datetime:
    """A registry time written in UTC (``LastWaitTimeout``), as an aware datetime."""
    return parse_registry_time(text).replace(tzinfo=UTC)


def format_registry_time(moment: datetime) -> str:
    """The inverse of :func:`parse_registry_time`, in the form Automatic Updates writes
    (``2003.09.10 12:38:10``); used for evidence and test data."""
    return moment.strftime("%Y.%m.%d %H:%M:%S")
