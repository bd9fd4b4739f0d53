"""New / still / resolved: this run's stalled hosts against the previous run's."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Trend:
    new: tuple[str, ...]
    still: tuple[str, ...]
    resolved: tuple[str, ...]
    #: False on a digest's first run: everything is "new" only in a trivial sense
    has_previous: bool

    def line(self) -> str:
        if not self.has_previous:
            return "first digest: no trend yet"
        return f"{len(self.new)} new · {len(self.still)} still · {len(self.resolved)} resolved"


def compare(current: Collection[str], previous: Mapping[str, object] | None) -> Trend:
    if previous is None:
        return Trend(tuple(sorted(current)), (), (), has_previous=False)
    before = set(previous)
    now = set(current)
    return Trend(
        new=tuple(sorted(now - before)),
        still=tuple(sorted(now & before)),
        resolved=tuple(sorted(before - now)),
        has_previous=True,
    )
