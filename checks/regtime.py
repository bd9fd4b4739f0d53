"""Registry time strings written by Automatic Updates: ``YYYY.MM.DD HH.MM.SS``.

``LastWaitTimeout`` is written in UTC; ``DetectionStartTime`` in the host's local time,
and the facts carry no UTC offset for the host, so that one stays naive.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from checks.errors import FactsError

_REGISTRY_TIME = re.compile(
    r"(\d{4})\.(\d{1,2})\.(\d{1,2}) (\d{1,2})\.(\d{1,2})\.(\d{1,2})",
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
        raise RegTimeError(f"registry time {_shown(text)} is not in the form YYYY.MM.DD HH.MM.SS")
    year, month, day, hour, minute, second = (int(part) for part in match.groups())
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError as exc:
        raise RegTimeError(f"registry time {_shown(text)} is out of range: {exc}") from None


def parse_utc_registry_time(text: str) -> datetime:
    """A registry time written in UTC (``LastWaitTimeout``), as an aware datetime."""
    return parse_registry_time(text).replace(tzinfo=UTC)


def format_registry_time(moment: datetime) -> str:
    """The inverse of :func:`parse_registry_time` (used for evidence and test data)."""
    return moment.strftime("%Y.%m.%d %H.%M.%S")
