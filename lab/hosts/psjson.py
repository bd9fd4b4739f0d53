"""The bytes a probe writes to stdout: what ``ConvertTo-WsusbotJson``
(``handlers/probes/lib/common.psm1``) makes of a document, so the lab's answers are the
real probes' output byte for byte, not merely equivalent JSON.

That writer puts no space after ``,`` or ``:``, keeps keys in insertion order, escapes
``"`` and ``\\`` with a backslash and every other character outside printable ASCII
(0x20-0x7E) as ``\\u`` plus four lower-case hex digits of its UTF-16 code unit (so a
newline is ``\\u000a``, not ``\\n``, and DEL is ``\\u007f``), writes ``[int]`` values
invariantly and ``[double]`` with the round-trip format ``R`` (``15`` for 15.0; NaN and
infinities as ``null``). ``json.dumps`` with compact separators and ``ensure_ascii``
already agrees on all of it except the short escapes, DEL and floats, which are mended
here; every float a probe writes is a rounded measurement (``elapsed_ms``), where ``R``
and Python's ``repr`` agree once an integral value drops its ``.0``.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

#: a backslash escape of json.dumps (consumed pairwise, so ``\\\\n`` stays as it is) or DEL
_MENDED = re.compile(r"\\(.)|\x7f")
_SHORT = {"n": "\\u000a", "r": "\\u000d", "t": "\\u0009", "b": "\\u0008", "f": "\\u000c"}
#: below this, .NET's ``R`` writes an integral double without an exponent (as an integer)
_PLAIN_INTEGRAL = 1e15


def _mend(match: re.Match[str]) -> str:
    escaped = match.group(1)
    if escaped is None:
        return "\\u007f"
    return _SHORT.get(escaped, match.group(0))


def _number(value: float) -> float | int | None:
    if not math.isfinite(value):
        return None
    if value.is_integer() and abs(value) < _PLAIN_INTEGRAL:
        return int(value)
    return value


_SCALARS = (str, int, bool, type(None))


def _prepared(value: Any) -> Any:
    """``value`` with its floats as the probe writes them; the same object when it holds none
    (inventory pages are 100,000s of values: scalars are passed over without a call)."""
    kind = type(value)
    if kind is float:
        return _number(value)
    if kind is dict:
        changed = None
        for key, item in value.items():
            if type(item) in _SCALARS:
                continue
            new = _prepared(item)
            if new is not item:
                if changed is None:
                    changed = dict(value)
                changed[key] = new
        return value if changed is None else changed
    if kind is list or kind is tuple:
        items: list[Any] | None = None
        for index, item in enumerate(value):
            if type(item) in _SCALARS:
                continue
            new = _prepared(item)
            if new is not item:
                if items is None:
                    items = list(value)
                items[index] = new
        return value if items is None else items
    return value


def probe_json(document: Any) -> bytes:
    """The probe's stdout for ``document`` (pure ASCII)."""
    text = json.dumps(_prepared(document), separators=(",", ":"), ensure_ascii=True)
    if "\\" in text or "\x7f" in text:
        text = _MENDED.sub(_mend, text)
    return text.encode("ascii")
