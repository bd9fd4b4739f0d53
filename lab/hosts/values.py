"""Helpers for host state kept as JSON-like dicts (merged from scenario YAML).

State values may be relative times (``"now-3h"``), absolute datetimes (set by fixes) or
references to another host's URL (``"@server"``); they are resolved when a probe answers.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from lab.clock import parse_offset

JsonDict = dict[str, Any]


def deep_merge(base: JsonDict, override: JsonDict) -> JsonDict:
    """``override`` merged into a copy of ``base``: dicts merge key by key, any other value
    replaces, and ``None`` deletes the key (how a scenario removes a site or a vdir)."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def resolve_time(value: object, now: datetime) -> datetime | None:
    """A state time (``None``, a datetime, or ``"now±..."``) as an absolute datetime."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        return now + parse_offset(value)
    raise ValueError(f"not a time value: {value!r} (use 'now-3h' style or leave it empty)")
