"""Streaming parser for IIS W3C extended logs (docs/catalogue.md, "Where each fact comes from").

Everything here is a generator: a multi-gigabyte log is read line by line in constant
memory. Bad input never raises out of :func:`iter_records`; each rejected line is counted
in a :class:`ParseStats` under a :class:`SkipReason`, and parsing goes on.

Layouts: IIS 5/6/7-10 all announce their columns in a ``#Fields:`` directive (IIS 6 adds
``s-sitename`` and has no ``time-taken`` by default; admins pick custom selections, in any
order). A new ``#Fields:`` directive mid-file governs the lines after it. ``-`` is an empty
value; IIS writes spaces inside a value as ``+`` (undone for the user agent only: in a URI
stem or query a ``+`` may be a literal character).
"""

from __future__ import annotations

import codecs
import enum
import gzip
import io
import os
import re
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import IO, NamedTuple, cast

#: a data line longer than this is refused (binary garbage without newlines must not be
#: buffered whole); real W3C lines are a few hundred characters
MAX_LINE_CHARS = 16 * 1024

GZIP_MAGIC = b"\x1f\x8b"

#: lines carrying this character were not valid UTF-8 in the file (decoded with replacement)
REPLACEMENT_CHAR = "\ufffd"


class SkipReason(enum.StrEnum):
    """Why a line was not turned into a record."""

    #: a data line before any ``#Fields:`` directive (or after an empty one)
    NO_FIELDS = "no_fields"
    #: the number of values differs from the ``#Fields:`` layout in force
    FIELD_COUNT = "field_count"
    #: ``date``/``time`` (or the ``#Date`` directive) is not a valid timestamp
    BAD_DATE = "bad_date"
    #: the layout has no ``date`` field and no valid ``#Date`` directive preceded the line
    NO_DATE = "no_date"
    #: ``sc-status``, ``sc-substatus``, ``sc-win32-status`` or ``time-taken`` not an integer
    BAD_NUMBER = "bad_number"
    #: longer than :data:`MAX_LINE_CHARS`
    TOO_LONG = "too_long"
    #: undecodable bytes in a field the analysis keys on (date, time, client IP, method, stem)
    UNDECODABLE = "undecodable"
    #: a ``#Fields:`` with no field names or a ``#Date:`` that is not a timestamp
    BAD_DIRECTIVE = "bad_directive"
    #: the file could not be read to its end (truncated or corrupt gzip, I/O error)
    READ_ERROR = "read_error"


@dataclass(slots=True)
class ParseStats:
    """Counts the caller reads after (or while) iterating.

    ``requests`` counts well-formed data lines, including those left out by a
    ``stem_prefixes`` filter (``filtered``), which are only checked for their field count.
    """

    lines: int = 0
    directives: int = 0
    blank: int = 0
    requests: int = 0
    filtered: int = 0
    #: records kept although a value outside the key fields held undecodable bytes
    replaced: int = 0
    #: ``#Fields:`` directives naming at least one field: 0 means the input was never a
    #: W3C log with a layout (every data line is then skipped as ``no_fields``)
    layouts: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def add(self, other: ParseStats) -> None:
        self.lines += other.lines
        self.directives += other.directives
        self.blank += other.blank
        self.requests += other.requests
        self.filtered += other.filtered
        self.replaced += other.replaced
        self.layouts += other.layouts
        self.skipped.update(other.skipped)


class W3CRecord(NamedTuple):
    """One request line. Empty (``-``) text values are ``""``, empty numbers ``None``.

    A named tuple rather than a frozen dataclass: it is built once per self-update line of
    a multi-gigabyte log, and constructing a tuple is several times cheaper.
    """

    time: datetime
    client_ip: str
    method: str
    uri_stem: str
    uri_query: str
    status: int | None
    substatus: int | None
    win32_status: int | None
    user_agent: str
    username: str
    site: str
    time_taken_ms: int | None
    #: the governing ``#Fields`` names (lower-cased) and the line's values, as written
    names: tuple[str, ...]
    values: Sequence[str]
    source: str = ""
    line_no: int = 0

    @property
    def fields(self) -> Mapping[str, str]:
        """Every value keyed by field name. Built on demand: few callers want it, and a
        dict per record would cost a third of the parse on a large log."""
        return dict(zip(self.names, self.values, strict=True))


class _Layout:
    """Column positions of one ``#Fields:`` directive (-1: the field is not logged)."""

    __slots__ = (
        "agent",
        "client_ip",
        "date",
        "method",
        "names",
        "query",
        "site",
        "status",
        "stem",
        "substatus",
        "time",
        "time_taken",
        "username",
        "width",
        "win32_status",
    )

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.width = len(names)
        position: dict[str, int] = {}
        for index, name in enumerate(names):
            position.setdefault(name, index)
        self.date = position.get("date", -1)
        self.time = position.get("time", -1)
        self.client_ip = position.get("c-ip", -1)
        self.method = position.get("cs-method", -1)
        self.stem = position.get("cs-uri-stem", -1)
        self.query = position.get("cs-uri-query", -1)
        self.status = position.get("sc-status", -1)
        self.substatus = position.get("sc-substatus", -1)
        self.win32_status = position.get("sc-win32-status", -1)
        self.agent = position.get("cs(user-agent)", -1)
        self.username = position.get("cs-username", -1)
        self.site = position.get("s-sitename", -1)
        self.time_taken = position.get("time-taken", -1)

    def key_positions(self) -> tuple[int, ...]:
        return tuple(
            i for i in (self.date, self.time, self.client_ip, self.method, self.stem) if i >= 0
        )


class _BadValue(Exception):
    def __init__(self, reason: SkipReason) -> None:
        super().__init__(reason.value)
        self.reason = reason


def _text(parts: list[str], index: int) -> str:
    if index < 0:
        return ""
    value = parts[index]
    return "" if value == "-" else value


def _number(parts: list[str], index: int) -> int | None:
    if index < 0:
        return None
    value = parts[index]
    if value == "-":
        return None
    try:
        return int(value)
    except ValueError:
        raise _BadValue(SkipReason.BAD_NUMBER) from None


def _timestamp(date: str, time: str) -> datetime:
    # W3C extended `date`/`time` are UTC whatever the rollover setting: "Regardless of the
    # setting, the time stamp for each W3C Extended Logging log record is UTC-based"
    # (LogFileLocaltimeRollover, IIS 6.0 SDK,
    # https://learn.microsoft.com/en-us/previous-versions/iis/6.0-sdk/ms525891(v=vs.90));
    # HTTP Server API W3C logging: `time` is "Coordinated Universal Time (UTC)"
    # (https://learn.microsoft.com/windows/desktop/Http/w3c-logging)
    try:
        return datetime.fromisoformat(f"{date}T{time}+00:00")
    except ValueError:
        raise _BadValue(SkipReason.BAD_DATE) from None


class _Clock:
    """Parses timestamps, remembering the last one: a busy log repeats each second."""

    __slots__ = ("date", "moment", "time")

    def __init__(self) -> None:
        self.date = ""
        self.time = ""
        self.moment: datetime | None = None

    def at(self, date: str, time: str) -> datetime:
        if self.moment is not None and time == self.time and date == self.date:
            return self.moment
        moment = _timestamp(date, time)
        self.date, self.time, self.moment = date, time, moment
        return moment


class _State:
    """What the directives seen so far say about the lines that follow."""

    __slots__ = ("clock", "date_default", "layout", "time_default")

    def __init__(self) -> None:
        self.clock = _Clock()
        self.layout: _Layout | None = None
        self.date_default: str | None = None
        self.time_default = "00:00:00"


def _directive(line: str, state: _State, stats: ParseStats) -> None:
    stats.directives += 1
    name, _, value = line[1:].partition(":")
    name = name.strip().lower()
    if name == "fields":
        names = tuple(value.lower().split())
        if names:
            state.layout = _Layout(names)
            stats.layouts += 1
        else:
            state.layout = None
            stats.skipped[SkipReason.BAD_DIRECTIVE] += 1
    elif name == "date":
        pieces = value.split()
        try:
            if len(pieces) != 2:
                raise _BadValue(SkipReason.BAD_DIRECTIVE)
            _timestamp(pieces[0], pieces[1])
        except _BadValue:
            # a later line must not be dated from an earlier file's header
            state.date_default = None
            stats.skipped[SkipReason.BAD_DIRECTIVE] += 1
        else:
            state.date_default, state.time_default = pieces
    # #Software, #Version, #Remark, #Start-Date, #End-Date: informative only


def _record(
    parts: list[str], layout: _Layout, state: _State, source: str, line_no: int
) -> W3CRecord:
    if layout.date >= 0:
        date = parts[layout.date]
        time = parts[layout.time] if layout.time >= 0 else "00:00:00"
    elif state.date_default is not None:
        date = state.date_default
        time = parts[layout.time] if layout.time >= 0 else state.time_default
    else:
        raise _BadValue(SkipReason.NO_DATE)
    agent = _text(parts, layout.agent)
    return W3CRecord(
        time=state.clock.at(date, time),
        client_ip=_text(parts, layout.client_ip),
        method=_text(parts, layout.method),
        uri_stem=_text(parts, layout.stem),
        uri_query=_text(parts, layout.query),
        status=_number(parts, layout.status),
        substatus=_number(parts, layout.substatus),
        win32_status=_number(parts, layout.win32_status),
        user_agent=agent.replace("+", " ") if "+" in agent else agent,
        username=_text(parts, layout.username),
        site=_text(parts, layout.site),
        time_taken_ms=_number(parts, layout.time_taken),
        names=layout.names,
        values=parts,
        source=source,
        line_no=line_no,
    )


def iter_records(
    lines: Iterable[str],
    *,
    source: str = "",
    stats: ParseStats | None = None,
    stem_prefixes: tuple[str, ...] | None = None,
) -> Iterator[W3CRecord]:
    """Yield the request records of a W3C log, skipping (and counting) what is malformed.

    ``stats`` receives the counts (complete once the iteration ends or is abandoned);
    pass a fresh one per call. ``stem_prefixes`` (lower
    case) keeps only requests whose ``cs-uri-stem`` starts with one of them,
    case-insensitively; the others are counted in ``stats.requests``/``stats.filtered``
    without being decoded further, which is what makes a scan of a large file fast.
    """
    counts = stats if stats is not None else ParseStats()
    return _records(lines, source, counts, stem_prefixes, _State())


class _Run(str):
    """Stands, in a stream of lines, for ``lines`` filtered requests the byte scanner
    (:func:`iter_log_records`) already counted: the line loop only advances its line
    number. Its text is ``#`` so the hot path never looks at it twice."""

    lines: int


def _run(lines: int) -> _Run:
    marker = _Run("#")
    marker.lines = lines
    return marker


def _records(
    lines: Iterable[str],
    source: str,
    counts: ParseStats,
    stem_prefixes: tuple[str, ...] | None,
    state: _State,
) -> Iterator[W3CRecord]:
    skipped = counts.skipped
    # the hot path keeps everything it touches per line in locals
    layout: _Layout | None = None
    separators = -1
    stem = -1
    prefixes = stem_prefixes if stem_prefixes is not None else ()
    line_no = 0
    filtered = 0
    try:
        for raw in lines:
            line_no += 1
            line = raw.rstrip("\r\n ")
            if not line or line[0] in "#\x00":
                # IIS pre-allocates log files: a crash leaves NUL runs before the next write
                line = line.lstrip("\x00")
                if not line:
                    counts.blank += 1
                    continue
                if line[0] == "#":
                    if raw.__class__ is _Run:
                        line_no += raw.lines - 1
                        continue
                    if len(line) > MAX_LINE_CHARS:
                        counts.directives += 1
                        skipped[SkipReason.TOO_LONG] += 1
                    else:
                        _directive(line, state, counts)
                        layout = state.layout
                        separators = layout.width - 1 if layout is not None else -1
                        stem = layout.stem if layout is not None and prefixes else -1
                    continue
            if layout is None:
                skipped[SkipReason.NO_FIELDS] += 1
                continue
            if len(line) > MAX_LINE_CHARS:
                skipped[SkipReason.TOO_LONG] += 1
                continue
            if stem >= 0:
                # most lines are other traffic: count the fields and look at the stem
                # without splitting the whole line
                if line.count(" ") != separators:
                    skipped[SkipReason.FIELD_COUNT] += 1
                    continue
                if not line.split(" ", stem + 1)[stem].lower().startswith(prefixes):
                    filtered += 1
                    continue
            parts = line.split(" ")
            if len(parts) != layout.width:
                skipped[SkipReason.FIELD_COUNT] += 1
                continue
            if REPLACEMENT_CHAR in line:
                if any(REPLACEMENT_CHAR in parts[i] for i in layout.key_positions()):
                    skipped[SkipReason.UNDECODABLE] += 1
                    continue
                counts.replaced += 1
            try:
                record = _record(parts, layout, state, source, line_no)
            except _BadValue as bad:
                skipped[bad.reason] += 1
                continue
            counts.requests += 1
            yield record
    finally:
        counts.lines += line_no
        counts.requests += filtered
        counts.filtered += filtered


def _lines(path: str | os.PathLike[str], stats: ParseStats | None) -> Iterator[str]:
    limit = MAX_LINE_CHARS + 2
    with open(path, "rb") as handle:
        magic = handle.read(len(GZIP_MAGIC))
        handle.seek(0)
        # rotated logs are often compressed without the .gz name (or renamed .log)
        binary: IO[bytes] = (
            cast(IO[bytes], gzip.GzipFile(fileobj=handle, mode="rb"))
            if magic == GZIP_MAGIC
            else handle
        )
        with binary, io.TextIOWrapper(binary, encoding="utf-8", errors="replace") as text:
            read = partial(text.readline, limit)
            try:
                for line in iter(read, ""):
                    if len(line) == limit and not line.endswith("\n"):
                        # overlong (or no newlines at all): hand the parser a piece it
                        # will refuse as too long, and drop the rest without buffering it
                        rest = read()
                        while len(rest) == limit and not rest.endswith("\n"):
                            rest = read()
                    yield line
            except (OSError, EOFError, zlib.error):
                # a rotated gzip still being written, or a corrupt one: keep what was read
                if stats is not None:
                    stats.skipped[SkipReason.READ_ERROR] += 1


def open_log(path: str | os.PathLike[str], *, stats: ParseStats | None = None) -> Iterator[str]:
    """Stream the lines of a plain or gzip'd log (recognised by its magic bytes).

    UTF-8 is decoded with replacement (IIS may write ANSI values). A missing file
    raises :class:`OSError` here; the file is opened on the first iteration (so an
    iterator never started holds no handle: a file that cannot be opened raises
    :class:`OSError` there). A read error after that (a truncated or corrupt gzip) ends
    the stream and is counted in ``stats`` as ``read_error``.
    """
    os.stat(path)
    return _lines(path, stats)


# ---------------------------------------------------------------- the byte scanner
#
# A scan for a few URI stems (logscan) decodes only the lines that can matter. Each chunk
# of the file is searched as bytes, in C: one case-insensitive regular expression for the
# stems, ``find`` for the rest. The lines it finds (candidates, directives, lines starting
# with NUL, lines ending in a space, very long lines, lines holding a character whose lower
# case is ASCII) are decoded and handed to the line loop above, unchanged. Between them,
# blocks of ordinary lines are only checked for their field count: deleting every byte but
# the space and the newline (``bytes.translate``) leaves ``" " * (width - 1) + "\n"`` per
# line when every line has the layout's width. A block that does not is split until the
# odd lines are found, and those are decoded too. Newlines are translated as the text
# reader of :func:`open_log` translates them (``\r\n`` and a lone ``\r`` end a line), and
# a read error keeps what that reader would have kept, so the records and the counts are
# exactly those of ``iter_records(open_log(path), ...)``.

#: bytes read (decompressed) at a time
_CHUNK = 1 << 20
#: ordinary lines are checked in blocks of about this many bytes
_BLOCK = 16 * 1024
#: a line longer than this is cut at the limit of :func:`_lines` (plus UTF-8 headroom)
_HEAD = 4 * (MAX_LINE_CHARS + 2) + 8
#: every window of this many bytes without a newline marks a line that may be too long
#: (a line of 2 * _WINDOW - 1 bytes or more always contains one)
_WINDOW = (MAX_LINE_CHARS + 1) // 2
#: non-ASCII characters whose lower case holds an ASCII letter (``str.lower``: KELVIN SIGN
#: is ``k``, LATIN CAPITAL LETTER I WITH DOT ABOVE is ``i`` + a combining dot); a stem
#: written with them matches a prefix case-insensitively although its bytes do not
_CASE_TRAPS = ("\u212a".encode(), "\u0130".encode())
#: every byte but the space and the newline (lines end in \n alone once translated)
_NOT_SKELETON = bytes(b for b in range(256) if b not in b" \n")


class _Finder:
    """The stems to look for, as bytes patterns (ASCII prefixes only)."""

    __slots__ = ("after_space", "anywhere")

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        raw = [prefix.encode("ascii") for prefix in prefixes]
        common = raw[0]
        while not all(prefix.startswith(common) for prefix in raw):
            common = common[:-1]
        rest = b"|".join(re.escape(prefix[len(common) :]) for prefix in raw)
        body = re.escape(common) + b"(?:" + rest + b")"
        self.anywhere = re.compile(body, re.IGNORECASE)
        # in a line of the right width the stem follows a space (unless it is the first
        # field): the longer literal prefix makes the search several times cheaper
        self.after_space = re.compile(b" " + body, re.IGNORECASE)


def _finder(prefixes: tuple[str, ...] | None) -> _Finder | None:
    if not prefixes or not all(prefix and prefix.isascii() for prefix in prefixes):
        return None
    return _Finder(prefixes)


def iter_log_records(
    path: str | os.PathLike[str],
    *,
    source: str = "",
    stats: ParseStats | None = None,
    stem_prefixes: tuple[str, ...] | None = None,
) -> Iterator[W3CRecord]:
    """``iter_records(open_log(path, stats=stats), ...)``, the same records and counts, read
    as bytes: with ``stem_prefixes`` only the lines that may carry one of them are decoded.

    A missing file raises :class:`OSError` here, as :func:`open_log` does.
    """
    os.stat(path)
    counts = stats if stats is not None else ParseStats()
    finder = _finder(stem_prefixes)
    if finder is None:
        return _records(open_log(path, stats=counts), source, counts, stem_prefixes, _State())
    state = _State()
    return _records(_byte_lines(path, state, counts, finder), source, counts, stem_prefixes, state)


def _byte_lines(
    path: str | os.PathLike[str], state: _State, counts: ParseStats, finder: _Finder
) -> Iterator[str]:
    """The lines :func:`_records` must see, ordinary lines folded into :class:`_Run`."""
    with open(path, "rb") as handle:
        magic = handle.read(len(GZIP_MAGIC))
        handle.seek(0)
        binary: IO[bytes] = (
            cast(IO[bytes], gzip.GzipFile(fileobj=handle, mode="rb"))
            if magic == GZIP_MAGIC
            else handle
        )
        with binary:
            read = cast(io.BufferedIOBase, binary).read1
            carry = b""  # the line still incomplete
            skipping = False  # carry is the head of an overlong line; drop to its end
            for data in _normalized(read, counts):
                if data is None:
                    # the end of the file ends the last line
                    if skipping:
                        yield _cut(carry.decode("utf-8", "replace"))
                    elif carry:
                        yield from _chunk(carry + b"\n", state, counts, finder)
                    return
                if skipping:
                    end = data.find(b"\n")
                    if end < 0:
                        continue
                    yield _cut(carry.decode("utf-8", "replace"))
                    carry, skipping, data = b"", False, data[end + 1 :]
                buf = carry + data if carry else data
                cut = buf.rfind(b"\n") + 1
                if cut:
                    yield from _chunk(buf if cut == len(buf) else buf[:cut], state, counts, finder)
                    carry = buf[cut:]
                else:
                    carry = buf
                if len(carry) > _HEAD:
                    carry, skipping = carry[:_HEAD], True
            # a read error: the text reader keeps only the complete lines read before it


def _normalized(read: Callable[[int], bytes], counts: ParseStats) -> Iterator[bytes | None]:
    """The file's bytes with every line ending as ``\\n`` (``\\r\\n`` and a lone ``\\r``
    translated, as the text reader translates them), then ``None`` at the end of the file.

    A ``\\r`` is a line end only once the character after it is known: the text reader
    holds it back while the bytes after it do not yet make a character, so does this (a
    read error then loses the line, as it does there).
    """
    held = b""
    while True:
        try:
            data = read(_CHUNK)
        except (OSError, EOFError, zlib.error):
            counts.skipped[SkipReason.READ_ERROR] += 1
            return
        if not data:
            break
        if held:
            data, held = held + data, b""
        if b"\r" in data:
            last = data.rfind(b"\r")
            if last >= len(data) - 4 and not _pending(data[last + 1 :]):
                data, held = data[:last], data[last:]
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if data:
            yield data
    if held:
        yield held.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    yield None


def _pending(tail: bytes) -> str:
    """What the text reader has decoded of ``tail`` before more bytes arrive."""
    return codecs.getincrementaldecoder("utf-8")("replace").decode(tail, final=False)


def _cut(text: str) -> str:
    """What ``readline(limit)`` in :func:`_lines` yields for this line."""
    limit = MAX_LINE_CHARS + 2
    return text[:limit] if len(text) >= limit else text


def _decoded(buf: bytes) -> list[str]:
    return [_cut(text) for text in buf.decode("utf-8", "replace").split("\n")[:-1]]


def _line_at(buf: bytes, position: int) -> tuple[int, int]:
    return buf.rfind(b"\n", 0, position) + 1, buf.find(b"\n", position) + 1


def _special_lines(buf: bytes, finder: _Finder, layout: _Layout | None) -> list[tuple[int, int]]:
    """(start, end) of every line of ``buf`` that must be decoded, in order, merged."""
    spans: list[tuple[int, int]] = []
    add = spans.append
    directives = False
    for byte in (b"#", b"\x00"):
        position = buf.find(byte)
        while position >= 0:
            start, end = _line_at(buf, position)
            if start == position:
                add((start, end))
                directives = True
                position = buf.find(byte, end)
            else:
                position = buf.find(byte, position + 1)
    # the stem follows a space in a line of the right width, unless it is the first field
    pattern = (
        finder.after_space
        if not directives and layout is not None and layout.stem > 0
        else finder.anywhere
    )
    for match in pattern.finditer(buf):
        add(_line_at(buf, match.start()))
    position = buf.find(b" \n")
    while position >= 0:
        add(_line_at(buf, position))
        position = buf.find(b" \n", position + 2)
    for trap in _CASE_TRAPS:
        lead = trap[:1]
        position = buf.find(lead)
        while position >= 0:
            if buf.startswith(trap, position):
                add(_line_at(buf, position))
            position = buf.find(lead, position + 1)
    for window in range(0, len(buf), _WINDOW):
        if buf.find(b"\n", window, window + _WINDOW) < 0:
            add(_line_at(buf, window))
    if not spans:
        return spans
    spans.sort()
    merged = [spans[0]]
    for start, end in spans[1:]:
        last_start, last_end = merged[-1]
        if start <= last_end:
            if end > last_end:
                merged[-1] = (last_start, end)
        else:
            merged.append((start, end))
    return merged


def _chunk(buf: bytes, state: _State, counts: ParseStats, finder: _Finder) -> Iterator[str]:
    """The lines of ``buf`` (complete lines, ``\\n`` only) for :func:`_records`."""
    position = 0
    for start, end in _special_lines(buf, finder, state.layout):
        if start > position:
            yield from _ordinary(buf, position, start, state, counts)
        yield from _decoded(buf[start:end])
        position = end
    if position < len(buf):
        yield from _ordinary(buf, position, len(buf), state, counts)


def _ordinary(
    buf: bytes, start: int, stop: int, state: _State, counts: ParseStats
) -> Iterator[str]:
    """Lines without a stem to look at: counted when they have the layout's width."""
    layout = state.layout
    if layout is None or layout.stem < 0 or layout.width < 2:
        # nothing to filter on (or a one-field layout, where a blank line has the width):
        # every line goes through the line loop
        yield from _decoded(buf[start:stop])
        return
    unit = b" " * (layout.width - 1) + b"\n"
    pattern = unit * (2 * _BLOCK // len(unit) + 2)
    pending = 0
    while start < stop:
        end = buf.find(b"\n", start + _BLOCK, stop) + 1 or stop
        block = buf[start:end]
        skeleton = block.translate(None, _NOT_SKELETON)
        if pattern.startswith(skeleton):
            pending += len(skeleton) // len(unit)
        else:
            if pending:
                yield _counted(pending, counts)
                pending = 0
            yield from _odd(block, unit, pattern, counts)
        start = end
    if pending:
        yield _counted(pending, counts)


def _counted(lines: int, counts: ParseStats) -> str:
    counts.requests += lines
    counts.filtered += lines
    return _run(lines)


def _odd(block: bytes, unit: bytes, pattern: bytes, counts: ParseStats) -> Iterator[str]:
    """A block with some line of another width: halve it until the odd lines are found."""
    if len(block) <= 512:
        yield from _decoded(block)
        return
    middle = block.find(b"\n", len(block) // 2) + 1
    if not middle or middle == len(block):
        yield from _decoded(block)
        return
    for half in (block[:middle], block[middle:]):
        skeleton = half.translate(None, _NOT_SKELETON)
        if pattern.startswith(skeleton):
            yield _counted(len(skeleton) // len(unit), counts)
        else:
            yield from _odd(half, unit, pattern, counts)
