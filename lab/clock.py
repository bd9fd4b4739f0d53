"""The lab clock: real UTC time plus an offset that tests advance.

Scenario times are written relative to it (``now-45d``, ``now+26h``) and resolved when a
probe answers, so a scenario stays true whenever it runs and ``advance`` moves the whole
estate forward (scheduled detection runs, log file dates) without sleeping.
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
# a term without a sign continues the previous one: "now-1d6h" = one day and six hours ago
_TERM = re.compile(r"([+-]?)\s*(\d+(?:\.\d+)?)\s*([smhdw])")
_RELATIVE = re.compile(
    r"^now(?:\s*[+-]\s*\d+(?:\.\d+)?\s*[smhdw](?:\s*\d+(?:\.\d+)?\s*[smhdw])*)*$"
)


class LabClock:
    """Thread-safe ``now()`` = real UTC time + offset."""

    def __init__(self, offset: timedelta = timedelta(0)) -> None:
        self._lock = threading.Lock()
        self._offset = offset

    def now(self) -> datetime:
        with self._lock:
            offset = self._offset
        return datetime.now(UTC) + offset

    def advance(self, delta: timedelta) -> datetime:
        """Move the lab's time forward (or back, with a negative delta); returns the new now."""
        with self._lock:
            self._offset += delta
        return self.now()

    @property
    def offset(self) -> timedelta:
        with self._lock:
            return self._offset


def parse_offset(spec: str) -> timedelta:
    """``now``, ``now-45d``, ``now+1d2h``, ``now-2h30m`` -> the offset from now.

    Raises ValueError naming the accepted notation for anything else."""
    text = spec.strip()
    match = _RELATIVE.match(text)
    if match is None:
        raise ValueError(
            f"bad relative time {spec!r}: write 'now', or 'now' followed by signed terms "
            "such as 'now-45d', 'now+26h', 'now-1d6h' (units s, m, h, d, w)"
        )
    total = timedelta(0)
    sign = 1
    for sign_text, amount, unit in _TERM.findall(text[3:]):
        if sign_text:
            sign = -1 if sign_text == "-" else 1
        total += sign * timedelta(**{_UNITS[unit]: float(amount)})
    return total


def iso_utc(moment: datetime) -> str:
    """ISO-8601 UTC with a ``Z``, whole seconds (how the probes write times)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def registry_time(moment: datetime, utc_offset: timedelta = timedelta(0)) -> str:
    """The Auto Update registry string as the agent writes it, ``YYYY.MM.DD HH:MM:SS``
    (a published value: ``DetectionStartTime = "2003.09.10 12:38:10"``,
    http://smallvoid.com/article/winnt-automatic-updates-config.html; Microsoft's text
    writes the time with dots). Pass the host's UTC offset for DetectionStartTime (local
    time), none for LastWaitTimeout (UTC)."""
    return (moment.astimezone(UTC) + utc_offset).strftime("%Y.%m.%d %H:%M:%S")
