"""The ``iis_log`` probe's incremental read (docs/probes.md, "iis_log: incremental reads")."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

SELFUPDATE_PREFIXES = ("/wutrack.bin", "/selfupdate/", "/iuident.cab", "/clientwebservice/")


@dataclass(frozen=True)
class LogRead:
    files: list[dict[str, Any]]
    lines: list[str]
    cursor: dict[str, Any] | None


def _stem_index(fields_line: str) -> int | None:
    names = fields_line.split(":", 1)[1].split()
    try:
        return names.index("cs-uri-stem")
    except ValueError:
        return None


def _is_selfupdate(line: str, stem_index: int | None) -> bool:
    if stem_index is None:
        return False
    values = line.split(" ")
    if stem_index >= len(values):
        return False
    return values[stem_index].lower().startswith(SELFUPDATE_PREFIXES)


def _fields_in_force(data: bytes) -> str | None:
    last = None
    for raw in data.split(b"\n"):
        text = raw.decode("latin-1").rstrip("\r")
        if text.startswith("#Fields:"):
            last = text
    return last


def read_incremental(log_dir: Path, cursor: dict[str, Any] | None, max_bytes: int) -> LogRead:
    paths = sorted(p for p in log_dir.glob("*.log") if p.is_file())
    files = [{"name": p.name, "size": p.stat().st_size} for p in paths]
    if not paths:
        return LogRead(files, [], cursor)
    cursor_file = cursor.get("file") if cursor else None
    cursor_offset = int(cursor.get("offset") or 0) if cursor else 0
    plan: list[tuple[Path, int]] = []
    if not isinstance(cursor_file, str):
        plan.append((paths[-1], 0))
    else:
        for path in paths:
            if path.name < cursor_file:
                continue
            if path.name == cursor_file:
                size = path.stat().st_size
                plan.append((path, cursor_offset if cursor_offset <= size else 0))
            else:
                plan.append((path, 0))
    lines: list[str] = []
    budget = max(0, max_bytes)
    new_cursor: dict[str, Any] | None = dict(cursor) if cursor else None
    for path, start in plan:
        data = path.read_bytes()
        fields = _fields_in_force(data[:start]) if start else None
        stem_index = _stem_index(fields) if fields else None
        if fields:
            lines.append(fields)
        offset = start
        chunk = data[start : start + budget]
        end_of_full_lines = chunk.rfind(b"\n") + 1
        if end_of_full_lines == 0 and budget > 0 and len(chunk) == budget:
            # one line longer than the whole budget: take it, or the cursor never moves
            newline = data.find(b"\n", start)
            if newline != -1:
                chunk = data[start : newline + 1]
                end_of_full_lines = len(chunk)
        for raw in chunk[:end_of_full_lines].split(b"\n")[:-1]:
            text = raw.decode("latin-1").rstrip("\r")
            if text.startswith("#Fields:"):
                stem_index = _stem_index(text)
                lines.append(text)
            elif text and not text.startswith("#") and _is_selfupdate(text, stem_index):
                lines.append(text)
        offset += end_of_full_lines
        budget -= end_of_full_lines
        new_cursor = {"file": path.name, "offset": offset}
        if budget <= 0 or (offset < len(data) and end_of_full_lines < len(chunk)):
            break
    return LogRead(files, lines, new_cursor)
