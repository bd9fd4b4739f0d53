"""Dotted version numbers as Windows reports them (``7.6.7600.256``, ``10.0.19041.3636``).

File versions read from ``wuaueng.dll`` sometimes carry a build tag after a space
(``5.4.3790.2180 (srv03_sp1_rtm.050324-1447)``); the tag is ignored. Anything else that
is not digits separated by dots is a :class:`VersionError`, so a check can say "unknown"
instead of comparing garbage.
"""

from __future__ import annotations

import re
from functools import lru_cache

from checks.errors import FactsError

_VERSION = re.compile(r"(\d{1,10}(?:\.\d{1,10}){0,5})(?:\s+\(.*\))?", re.ASCII)


class VersionError(FactsError):
    """A version string is not a dotted sequence of numbers."""


def parse_version(text: str) -> tuple[int, ...]:
    """``" 7.6.7600.256 "`` -> ``(7, 6, 7600, 256)``; raises :class:`VersionError`."""
    return _parse(text)


#: an inventory of 100,000 computers holds a few dozen distinct agent versions: each is
#: parsed once (bounded, so a hostile inventory of distinct strings only costs misses)
@lru_cache(maxsize=4096)
def _parse(text: str) -> tuple[int, ...]:
    match = _VERSION.fullmatch(text.strip())
    if match is None:
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise VersionError(f"not a dotted version number: {shown!r}")
    return tuple(int(part) for part in match.group(1).split("."))


def compare_versions(left: str, right: str) -> int:
    """-1, 0 or 1, comparing numerically; missing trailing parts count as 0 (5.8 == 5.8.0.0)."""
    return _compare(left, right)


@lru_cache(maxsize=4096)
def _compare(left: str, right: str) -> int:
    a, b = _parse(left), _parse(right)
    width = max(len(a), len(b))
    a += (0,) * (width - len(a))
    b += (0,) * (width - len(b))
    return (a > b) - (a < b)


def is_below(version: str, floor: str) -> bool:
    return compare_versions(version, floor) < 0
