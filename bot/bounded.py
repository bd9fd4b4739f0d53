"""Reading files a user names, never more than a limit: a wrong path can be /dev/zero or a
multi-gigabyte log, and an endless stream must be refused, not read until memory runs out."""

from __future__ import annotations

import sys
from pathlib import Path


def read_at_most(path: Path, limit: int) -> bytes:
    """Up to ``limit + 1`` bytes of ``path`` (``-`` = standard input): one byte more than
    the limit is how the caller tells "too large" without reading on. Raises ``OSError``."""
    if str(path) == "-":
        return sys.stdin.buffer.read(limit + 1)
    with path.open("rb") as handle:
        return handle.read(limit + 1)
