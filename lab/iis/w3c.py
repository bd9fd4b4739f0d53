"""W3C extended log files as IIS 7.5 writes them: one ``u_exYYMMDD.log`` per UTC day."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

FIELDS = (
    "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
    "cs(User-Agent) sc-status sc-substatus sc-win32-status time-taken"
)
SOFTWARE = "Microsoft Internet Information Services 7.5"


@dataclass(frozen=True)
class LogEntry:
    when: datetime
    server_ip: str
    method: str
    uri_stem: str
    uri_query: str
    server_port: int
    username: str
    client_ip: str
    user_agent: str
    status: int
    substatus: int = 0
    win32_status: int = 0
    time_taken_ms: int = 0


def _field(value: str) -> str:
    # W3C: an empty value is "-", spaces inside a value become "+"
    return value.replace(" ", "+") if value else "-"


def format_line(entry: LogEntry) -> str:
    moment = entry.when.astimezone(UTC)
    return " ".join(
        (
            moment.strftime("%Y-%m-%d"),
            moment.strftime("%H:%M:%S"),
            entry.server_ip,
            entry.method,
            _field(entry.uri_stem),
            _field(entry.uri_query),
            str(entry.server_port),
            _field(entry.username),
            entry.client_ip,
            _field(entry.user_agent),
            str(entry.status),
            str(entry.substatus),
            str(entry.win32_status),
            str(entry.time_taken_ms),
        )
    )


def file_name(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("u_ex%y%m%d.log")


class W3cLogWriter:
    """Appends entries to the day's file in ``log_dir``; thread-safe, header on new files."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self._lock = threading.Lock()

    def _header(self, moment: datetime) -> str:
        stamp = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        return f"#Software: {SOFTWARE}\r\n#Version: 1.0\r\n#Date: {stamp}\r\n#Fields: {FIELDS}\r\n"

    def append(self, entries: list[LogEntry]) -> None:
        with self._lock:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            for entry in entries:
                path = self.log_dir / file_name(entry.when)
                text = format_line(entry) + "\r\n"
                if not path.exists() or path.stat().st_size == 0:
                    text = self._header(entry.when) + text
                with path.open("ab") as handle:
                    handle.write(text.encode("ascii", "replace"))

    def touch_day(self, moment: datetime) -> Path:
        """Create the day's file with its header if absent (IIS does this on first request)."""
        with self._lock:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            path = self.log_dir / file_name(moment)
            if not path.exists() or path.stat().st_size == 0:
                path.write_bytes(self._header(moment).encode("ascii"))
            return path
