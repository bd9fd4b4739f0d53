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
import operator
import os
import re
import zlib
from collections import Counter
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import IO, NamedTuple, Protocol, cast

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
        "pick",
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
        # the values a record keeps, in one C call; -1 (not logged) picks the ``-`` that
        # :func:`_record` appends
        self.pick = operator.itemgetter(
            *(
                index if index >= 0 else self.width
                for index in (
                    self.client_ip,
                    self.method,
                    self.stem,
                    self.query,
                    self.agent,
                    self.username,
                    self.site,
                    self.status,
                    self.substatus,
                    self.win32_status,
                    self.time_taken,
                )
            )
        )

    def key_positions(self) -> tuple[int, ...]:
        return tuple(
            i for i in (self.date, self.time, self.client_ip, self.method, self.stem) if i >= 0
        )


class _BadValue(Exception):
    def __init__(self, reason: SkipReason) -> None:
        super().__init__(reason.value)
        self.reason = reason


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


#: appended to a line's values so that an absent field (position -1) reads as ``-``
_ABSENT = ["-"]
#: builds a record from a tuple without the keyword-argument ``__new__`` (per-line cost)
_new_record = tuple.__new__


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
    moment = state.clock.at(date, time)
    client, method, stem, query, agent, username, site, status, sub, win32, taken = layout.pick(
        parts + _ABSENT
    )
    try:
        status_number = None if status == "-" else int(status)
        sub_number = None if sub == "-" else int(sub)
        win32_number = None if win32 == "-" else int(win32)
        taken_number = None if taken == "-" else int(taken)
    except ValueError:
        raise _BadValue(SkipReason.BAD_NUMBER) from None
    return _new_record(
        W3CRecord,
        (
            moment,
            "" if client == "-" else client,
            "" if method == "-" else method,
            "" if stem == "-" else stem,
            "" if query == "-" else query,
            status_number,
            sub_number,
            win32_number,
            agent.replace("+", " ") if "+" in agent else ("" if agent == "-" else agent),
            "" if username == "-" else username,
            "" if site == "-" else site,
            taken_number,
            layout.names,
            parts,
            source,
            line_no,
        ),
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


def _directive_text(raw: str) -> str | None:
    """The directive :func:`_records` applies for this line, if any (not a too long one)."""
    line = raw.rstrip("\r\n ").lstrip("\x00")
    if line[:1] == "#" and len(line) <= MAX_LINE_CHARS and raw.__class__ is not _Run:
        return line
    return None


class _Sender(Protocol):
    def send(self, obj: object) -> None: ...

    def close(self) -> None: ...


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
    candidates: bool = False,
) -> Iterator[W3CRecord]:
    """The line loop. ``candidates``: the lines were picked by the byte scanner, so most
    carry a wanted stem and are split whole at once (a text reader's lines are mostly
    other traffic, only counted and looked at up to the stem)."""
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
            if stem >= 0 and not candidates:
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
            if candidates and stem >= 0 and not parts[stem].lower().startswith(prefixes):
                filtered += 1
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
# of the file (several MiB) is searched as bytes, in C. Directive lines and lines starting
# with NUL (``find`` of one byte: ``memchr``) cut it into segments; within a segment the
# layout is fixed, and one case-insensitive regular expression finds both the stem
# candidates (a space, then a stem: the stem field follows a space unless it is the first
# field) and the lines ending in a space (which the line loop strips, changing their
# width). Those lines, very long lines and lines holding a character whose lower case is
# ASCII are decoded and handed to the line loop above, unchanged. Between them, ordinary
# lines are only checked for their field count, in blocks: deleting every byte but the space
# and the newline (``bytes.translate``) leaves ``" " * (width - 1) + "\n"`` per line when
# every line of the block has the layout's width; a block that does not is split until
# its odd lines are found, and those are decoded too. The ordinary lines between two
# decoded ones reach the line loop as one :class:`_Run`. Newlines are translated as the text
# reader of :func:`open_log` translates them (``\r\n`` and a lone ``\r`` end a line), and a
# read error keeps what that reader would have kept, so the records and the counts are
# exactly those of ``iter_records(open_log(path), ...)``.
#
# Why these passes (CPU seconds per GiB of the bench log, bench/README.md): the regex
# 1.03; ``bytes.lower()`` 0.32 and then a ``find`` loop per stem 0.20-0.30 each would be
# 1.3 (CPython's two-way search is no faster than sre's scan for these needles, and there
# are four); the regex without its ``\n`` branch 0.70, and ``" \n"`` found apart 0.39
# (sre) to 0.85 (``find``: a two-byte needle gets the simple search). The skeleton
# ``translate`` 0.53 against ``count(b" ")`` 0.50 and ``count(b"\n")`` 0.42 alone: a count
# pre-check would cost what the exact check costs, and could not tell a line with a field
# too many from one with a field too few in the same block. Only one-byte ``find``
# (``memchr``, 0.06) and comparisons (``memcmp``) are much cheaper than a pass.

#: bytes read (decompressed) at a time: large, so the per-chunk Python work is negligible
_CHUNK = 4 << 20
#: ordinary lines are checked in blocks of about this many bytes
_BLOCK = 16 * 1024
#: a block this small with an odd line in it is decoded whole rather than split again
_SMALL = 512
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

_Span = tuple[int, int]
#: what the scanner searches: a read buffer (plain files) or the bytes of a read
_Bytes = bytes | bytearray


class _Finder:
    """The stems to look for, as bytes patterns (ASCII prefixes only)."""

    __slots__ = ("after_space", "anywhere", "traps")

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        # each trap searched for is a pass over the data (memchr of its lead byte): only
        # those that can make one of these stems (the Kelvin sign for ``/wutrack.bin``)
        self.traps = tuple(trap for trap in _CASE_TRAPS if _may_match(trap, prefixes))
        raw = [prefix.encode("ascii") for prefix in prefixes]
        common = raw[0]
        while not all(prefix.startswith(common) for prefix in raw):
            common = common[:-1]
        rest = b"|".join(re.escape(prefix[len(common) :]) for prefix in raw)
        body = re.escape(common) + b"(?:" + rest + b")"
        # one pass finds both the candidates and the lines ending in a space: measured on
        # the benchmark log, 1.3x faster than a stem pattern and a ``find(b" \n")`` loop
        self.anywhere = re.compile(b"(?:" + body + b"| \n)", re.IGNORECASE)
        # in a line of the right width the stem follows a space (unless it is the first
        # field): the longer literal prefix makes the search cheaper
        self.after_space = re.compile(b" (?:" + body + b"|\n)", re.IGNORECASE)


def _may_match(trap: bytes, prefixes: tuple[str, ...]) -> bool:
    """Whether a stem holding ``trap`` can start with one of ``prefixes`` once lower-cased:
    the trap's lower case lies within a prefix, or begins where a prefix ends (``İ``
    lowers to ``i`` and a combining dot, which no ASCII prefix holds)."""
    lowered = trap.decode().lower()
    return any(
        lowered in prefix or any(prefix.endswith(lowered[:size]) for size in range(1, len(lowered)))
        for prefix in prefixes
    )


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
    line_numbers: bool = True,
    pipeline: bool = False,
) -> Iterator[W3CRecord]:
    """``iter_records(open_log(path, stats=stats), ...)``, the same records and counts, read
    as bytes: with ``stem_prefixes`` only the lines that may carry one of them are decoded.

    ``pipeline=True`` shares the search of the file with a second process (forked, where
    the platform can fork; :data:`DEAL`) while this one also parses and the caller
    aggregates: the other process's lines reach the line loop in the same order through a
    pipe, whose bounded buffer keeps the memory bounded.

    ``line_numbers=False`` (for a caller that never reads :attr:`W3CRecord.line_no`, such
    as a scan that only aggregates) lets the scanner skip counting the lines between two
    decoded ones: the records, their order and every count stay the same, but ``line_no``
    is only the order of the record's line among the decoded lines of its file.

    A missing file raises :class:`OSError` here, as :func:`open_log` does.
    """
    os.stat(path)
    counts = stats if stats is not None else ParseStats()
    finder = _finder(stem_prefixes)
    if finder is None:
        return _records(open_log(path, stats=counts), source, counts, stem_prefixes, _State())
    state = _State()
    lines = (
        _piped_lines(path, counts, finder, line_numbers)
        if pipeline and can_pipeline()
        else _byte_lines(path, state, counts, finder, line_numbers)
    )
    return _records(lines, source, counts, stem_prefixes, state, candidates=True)


def can_pipeline() -> bool:
    """Whether :func:`iter_log_records` can search in other processes: the platform can
    fork (the children inherit this module; nothing is re-imported) and has a second CPU."""
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods() and (os.cpu_count() or 1) > 1


#: which process searches each unit (one read) of a plain file in a pipeline, in turn:
#: 0 is the process that runs the line loop, 1 and up forked searchers. On the 1 GiB
#: bench log (bench/README.md) the line loop costs about a quarter of what the search
#: does, so this process searching one unit in three beside it and one searcher the other
#: two keep two CPUs equally busy (1.3 CPU-s each); ``(1, 2)``, two searchers with this
#: process only parsing, spent 5 % more CPU in all (a third reader of the file) for no
#: shorter wall time, and a third process's memory. A gzip'd file is searched by one
#: searcher (each reader would decompress all of it).
DEAL: tuple[int, ...] = (1, 0, 1)

#: the first characters of a line that may be a directive (NUL runs may precede one)
_DIRECTIVE_LEADS = frozenset(("#", "\x00"))
#: marks, in what :func:`_byte_lines` yields with ``share``, the end of one unit
_UNIT_END = _Run("#")
_UNIT_END.lines = 0


class _Share(NamedTuple):
    """One of the processes reading the same file: unit ``u`` (one read) is searched by
    process ``deal[u % len(deal)]``."""

    searcher: int
    deal: tuple[int, ...]
    #: yield a :class:`_Unit` where a unit of another process comes
    marks: bool = False


class _Unit(_Run):
    """Where, in the lines of the process that runs the line loop, the lines of a unit
    searched by process ``owner`` belong."""

    owner: int


def _unit(owner: int) -> _Unit:
    marker = _Unit("#")
    marker.lines = 0
    marker.owner = owner
    return marker


#: a searcher may run this far ahead of the line loop (bytes in its pipe): a few units'
#: lines, so that it does not wait while the loop searches a unit of its own
_PIPE_BYTES = 1 << 20


def _widen(receiver: _Receiver) -> None:
    """Let the pipe hold :data:`_PIPE_BYTES` (Linux; elsewhere the default stays)."""
    try:
        import fcntl

        fcntl.fcntl(receiver.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
    except (ImportError, AttributeError, OSError):
        pass


class _Receiver(Protocol):
    def recv(self) -> object: ...

    def fileno(self) -> int: ...

    def close(self) -> None: ...


def _piped_lines(
    path: str | os.PathLike[str], counts: ParseStats, finder: _Finder, line_numbers: bool
) -> Iterator[str]:
    """:func:`_byte_lines` shared with child processes, the lines in order.

    Each process reads the whole file but searches only its units (:data:`DEAL`); a
    child sends the lines of each of its units as one message, and this process takes
    them in turn between its own. A pipe's bounded buffer (:data:`_PIPE_BYTES`) stops a
    child that runs ahead, so the memory stays bounded.
    """
    import multiprocessing

    with open(path, "rb") as handle:
        gzipped = handle.read(len(GZIP_MAGIC)) == GZIP_MAGIC
    deal = (1,) if gzipped else DEAL
    context = multiprocessing.get_context("fork")
    receivers: dict[int, _Receiver] = {}
    children = []
    try:
        for index in sorted(set(deal) - {0}):
            receiver, sender = context.Pipe(duplex=False)
            _widen(receiver)
            child = context.Process(
                target=_search,
                args=(path, finder, line_numbers, _Share(index, deal), sender),
                name=f"w3c-search-{index}",
                daemon=True,
            )
            child.start()
            sender.close()
            receivers[index] = receiver
            children.append(child)
        if 0 in deal:
            yield from _searched_here(path, counts, finder, line_numbers, deal, receivers)
            return
        unit = 0
        while (yield from _received(receivers[deal[unit % len(deal)]], path, counts)):
            unit += 1
    finally:
        for pipe in receivers.values():
            pipe.close()
        for child in children:
            if child.is_alive():
                # done, abandoned early or failed: a child may be blocked on a full pipe
                child.terminate()
            child.join()


def _searched_here(
    path: str | os.PathLike[str],
    counts: ParseStats,
    finder: _Finder,
    line_numbers: bool,
    deal: tuple[int, ...],
    receivers: Mapping[int, _Receiver],
) -> Iterator[str]:
    """The units in order: this process's searched here, the others' received.

    The search keeps its own state: the line loop's must see each directive only when it
    reaches its line (a ``#Date`` dates the lines after it, not those before).
    """
    state, scratch = _State(), ParseStats()
    share = _Share(0, deal, marks=True)
    for line in _byte_lines(path, state, counts, finder, line_numbers, share):
        if line.__class__ is _Unit:
            # the unit's directives reach the search state from its lines (no skim of
            # the unit here: two memchr passes over two thirds of the file saved)
            if not (yield from _received(receivers[line.owner], path, counts, state)):
                return
            continue
        if line is _UNIT_END:
            continue
        yield line
        if line.__class__ is not _Run and line[:1] in _DIRECTIVE_LEADS:
            directive = _directive_text(line)
            if directive is not None:
                _directive(directive, state, scratch)
    # the searchers' closing messages are not read: this process read the same file to
    # its end (or to the read error it counted)


def _received(
    receiver: _Receiver,
    path: str | os.PathLike[str],
    counts: ParseStats,
    state: _State | None = None,
) -> Generator[str, None, bool]:
    """The lines of the next unit a searcher sends; False when it sent its last.
    ``state``: a search state that learns the unit's directives."""
    try:
        message = receiver.recv()
    except EOFError:
        raise OSError(f"the search process for {os.fspath(path)} ended early") from None
    if message.__class__ is list:
        scratch = ParseStats()
        for item in cast(list[str | int], message):
            if item.__class__ is int:
                yield _counted(item, counts)
                continue
            line = cast(str, item)
            yield line
            if state is not None and line[:1] in _DIRECTIVE_LEADS:
                directive = _directive_text(line)
                if directive is not None:
                    _directive(directive, state, scratch)
        return True
    kind, value = cast(tuple[str, object], message)
    if kind == "raise":
        raise cast(BaseException, value)
    if value:
        counts.skipped[SkipReason.READ_ERROR] += cast(int, value)
    return False


def _search(
    path: str | os.PathLike[str],
    finder: _Finder,
    line_numbers: bool,
    share: _Share,
    sender: _Sender,
) -> None:
    """A child of :func:`_piped_lines`: what :func:`_byte_lines` yields, a unit at a time.

    The byte scanner reads the layout from the state the line loop keeps; here nobody runs
    the line loop, so the directives it yields are applied to the state as the loop would.
    """
    try:
        counts, state, scratch = ParseStats(), _State(), ParseStats()
        batch: list[str | int] = []
        add = batch.append
        for line in _byte_lines(path, state, counts, finder, line_numbers, share):
            if line.__class__ is _Run:
                if line is _UNIT_END:
                    sender.send(batch)
                    batch = []
                    add = batch.append
                else:
                    add(line.lines)
                continue
            add(line)
            if line[:1] in _DIRECTIVE_LEADS:
                directive = _directive_text(line)
                if directive is not None:
                    _directive(directive, state, scratch)
        sender.send(("end", counts.skipped[SkipReason.READ_ERROR]))
    except Exception as exc:  # handed to the parent, which raises it
        sender.send(("raise", exc))
    finally:
        sender.close()


def _byte_lines(
    path: str | os.PathLike[str],
    state: _State,
    counts: ParseStats,
    finder: _Finder,
    line_numbers: bool = True,
    share: _Share | None = None,
) -> Iterator[str]:
    """The lines :func:`_records` must see, ordinary lines folded into :class:`_Run`.

    ``share``: one of the processes reading the same (plain) file. Units (what one read of
    the file brings) are dealt by ``share.deal``; this one yields the lines of its own
    units, each followed by :data:`_UNIT_END`, and of the others only applies the
    directives to ``state`` (so its own units are searched with the layout in force).
    With ``share.marks`` it yields a :class:`_Unit` where each of the others' begins
    instead, and the caller applies the directives of the lines it receives for it.
    """
    with open(path, "rb") as handle:
        magic = handle.read(len(GZIP_MAGIC))
        handle.seek(0)
        binary: IO[bytes] = (
            cast(IO[bytes], gzip.GzipFile(fileobj=handle, mode="rb"))
            if magic == GZIP_MAGIC
            else handle
        )
        with binary:
            # processes that share a file must cut it into the same units: whole reads (a
            # gzip'd file has a single reader, whose partial reads keep what precedes an
            # error in the stream)
            read: Callable[[int], _Bytes]
            if binary is handle:
                read = _Refill(handle).read
            elif share is not None and len(set(share.deal)) > 1:
                read = partial(_read_full, binary)
            else:
                read = cast(io.BufferedIOBase, binary).read1
            markers = {i: _unit(i) for i in set(share.deal)} if share is not None else {}
            # a process that receives the others' lines learns their directives from them
            skims = share is None or not share.marks
            carry: _Bytes = b""  # the line still incomplete
            skipping = False  # carry is the head of an overlong line; drop to its end
            unit = -1
            mine = True
            for data in _normalized(read, counts):
                if share is not None:
                    if unit >= 0 and mine:
                        yield _UNIT_END
                    unit += 1
                    owner = share.deal[unit % len(share.deal)]
                    mine = owner == share.searcher
                    if not mine and share.marks:
                        yield markers[owner]
                if data is None:
                    # the end of the file ends the last line
                    if skipping:
                        if mine:
                            yield _cut(carry.decode("utf-8", "replace"))
                    elif carry:
                        line = carry + b"\n"
                        yield from _part(
                            mine, skims, line, 0, len(line), state, counts, finder, line_numbers
                        )
                    if share is not None and mine:
                        yield _UNIT_END
                    return
                start = 0
                if skipping:
                    end = data.find(b"\n")
                    if end < 0:
                        continue
                    if mine:
                        yield _cut(carry.decode("utf-8", "replace"))
                    carry, skipping, start = b"", False, end + 1
                elif carry:
                    # complete the carried line alone: copying the whole chunk behind it
                    # would cost a pass over the data
                    end = data.find(b"\n") + 1
                    if end:
                        line = carry + data[:end]
                        carry, start = b"", end
                        yield from _part(
                            mine, skims, line, 0, len(line), state, counts, finder, line_numbers
                        )
                    else:
                        carry, start = carry + data, len(data)
                cut = data.rfind(b"\n", start) + 1
                if cut:
                    yield from _part(
                        mine, skims, data, start, cut, state, counts, finder, line_numbers
                    )
                    carry = data[cut:]
                elif start < len(data):
                    carry = carry + data[start:] if carry else data[start:]
                if len(carry) > _HEAD:
                    carry, skipping = carry[:_HEAD], True
            # a read error: the text reader keeps only the complete lines read before it
            if share is not None and unit >= 0 and mine:
                yield _UNIT_END


def _part(
    mine: bool,
    skims: bool,
    buf: _Bytes,
    start: int,
    stop: int,
    state: _State,
    counts: ParseStats,
    finder: _Finder,
    line_numbers: bool,
) -> Iterator[str]:
    """The lines of a part of this process's unit; another's only updates ``state`` (if
    ``skims``: else the caller applies the directives of the lines it receives)."""
    if mine:
        yield from _chunk(buf, start, stop, state, counts, finder, line_numbers)
    elif skims:
        _skim(buf, start, stop, state)


class _Refill:
    """Whole reads of a plain file into one buffer, reused: a fresh 4 MiB object per read
    is fresh memory the kernel faults in page by page (with the joined copies that
    :func:`_newlines` now avoids, two searchers' system time on the 1 GiB bench log was
    0.7 s, now 0.25 s). What it returns is valid until the next read."""

    __slots__ = ("buffer", "handle")

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.buffer = bytearray(_CHUNK)

    def read(self, size: int) -> _Bytes:
        if len(self.buffer) != size:
            self.buffer = bytearray(size)
        got = cast(io.BufferedReader, self.handle).readinto(self.buffer)
        return self.buffer if got == size else self.buffer[:got]


def _read_full(handle: IO[bytes], size: int) -> bytes:
    """``size`` bytes, fewer only at the end of the file."""
    data = handle.read(size)
    while 0 < len(data) < size:
        more = handle.read(size - len(data))
        if not more:
            break
        data += more
    return data


def _skim(buf: _Bytes, start: int, stop: int, state: _State) -> None:
    """Apply the directives of ``buf[start:stop]`` as the line loop would (another process
    yields these lines)."""
    scratch = ParseStats()
    cuts = _merged(_line_starts(buf, start, stop, b"#") + _line_starts(buf, start, stop, b"\x00"))
    for cut_start, cut_end in cuts:
        for line in _decoded(buf[cut_start:cut_end]):
            directive = _directive_text(line)
            if directive is not None:
                _directive(directive, state, scratch)


def _normalized(read: Callable[[int], _Bytes], counts: ParseStats) -> Iterator[_Bytes | None]:
    """The file's bytes with every line ending as ``\\n`` (``\\r\\n`` and a lone ``\\r``
    translated, as the text reader translates them), then ``None`` at the end of the file.

    A ``\\r`` is a line end only once the character after it is known: the text reader
    holds it back while the bytes after it do not yet make a character, so does this (a
    read error then loses the line, as it does there).
    """
    held: _Bytes = b""
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
            data = _newlines(data)
        if data:
            yield data
    if held:
        yield _newlines(held)
    yield None


#: up to this many ``\r`` in a chunk are translated one by one (a few stray ones in binary
#: garbage); more (a CRLF log) are translated by ``replace``
_FEW_CR = 64


def _newlines(data: _Bytes) -> _Bytes:
    """``data`` with ``\r\n`` and every other ``\r`` as ``\n`` (a read buffer changed in
    place when every ``\r`` is a lone one)."""
    positions: list[int] = []
    position = data.find(b"\r")
    while position >= 0:
        if len(positions) == _FEW_CR:
            data = data.replace(b"\r\n", b"\n")
            return data.replace(b"\r", b"\n") if b"\r" in data else data
        positions.append(position)
        position = data.find(b"\r", position + 1)
    if data.__class__ is bytearray and all(data[p + 1 : p + 2] != b"\n" for p in positions):
        # stray ``\r`` in binary garbage (the usual case): no copy of the chunk
        for position in positions:
            data[position] = 10
        return data
    # a few: one copy (two ``replace`` passes would each scan the whole chunk)
    pieces = []
    start = 0
    for position in positions:
        pieces.append(data[start:position])
        if data[position + 1 : position + 2] == b"\n":
            start = position + 1
        else:
            pieces.append(b"\n")
            start = position + 1
    pieces.append(data[start:])
    return b"".join(pieces)


def _pending(tail: _Bytes) -> str:
    """What the text reader has decoded of ``tail`` before more bytes arrive."""
    return codecs.getincrementaldecoder("utf-8")("replace").decode(tail, final=False)


def _cut(text: str) -> str:
    """What ``readline(limit)`` in :func:`_lines` yields for this line."""
    limit = MAX_LINE_CHARS + 2
    return text[:limit] if len(text) >= limit else text


def _decoded(buf: _Bytes) -> list[str]:
    lines = buf.decode("utf-8", "replace").split("\n")[:-1]
    # no line of a span this short can be cut (a character is at least a byte)
    return lines if len(buf) < MAX_LINE_CHARS + 2 else [_cut(text) for text in lines]


def _merged(spans: list[_Span]) -> list[_Span]:
    """Sorted, overlapping and touching spans joined (one decode for adjacent lines)."""
    if len(spans) < 2:
        return spans
    spans.sort()
    merged = [spans[0]]
    last_start, last_end = spans[0]
    for start, end in spans:
        if start <= last_end:
            if end > last_end:
                last_end = end
                merged[-1] = (last_start, end)
        else:
            merged.append((start, end))
            last_start, last_end = start, end
    return merged


def _line_starts(buf: _Bytes, start: int, stop: int, byte: bytes) -> list[_Span]:
    """(start, end) of every line of ``buf[start:stop]`` whose first byte is ``byte``."""
    spans = []
    position = buf.find(byte, start, stop)
    while position >= 0:
        if position == start or buf[position - 1] == 10:
            end = buf.find(b"\n", position, stop) + 1
            spans.append((position, end))
            position = buf.find(byte, end, stop)
        else:
            position = buf.find(byte, position + 1, stop)
    return spans


def _chunk(
    buf: _Bytes,
    start: int,
    stop: int,
    state: _State,
    counts: ParseStats,
    finder: _Finder,
    line_numbers: bool,
) -> Iterator[str]:
    """The lines of ``buf[start:stop]`` (complete lines, ``\\n`` only) for :func:`_records`.

    Directives (and lines starting with NUL, which may hide one) are yielded before the
    segment after them is searched: the line loop has read them by then, so the segment is
    searched with the layout in force.
    """
    position = start
    cuts = _merged(_line_starts(buf, start, stop, b"#") + _line_starts(buf, start, stop, b"\x00"))
    for cut_start, cut_end in cuts:
        if cut_start > position:
            yield from _segment(buf, position, cut_start, state, counts, finder, line_numbers)
        yield from _decoded(buf[cut_start:cut_end])
        position = cut_end
    if position < stop:
        yield from _segment(buf, position, stop, state, counts, finder, line_numbers)


def _segment(
    buf: _Bytes,
    start: int,
    stop: int,
    state: _State,
    counts: ParseStats,
    finder: _Finder,
    line_numbers: bool,
) -> Iterator[str]:
    """Lines of one layout: the ones to decode, and :class:`_Run` for those between."""
    layout = state.layout
    if layout is None or layout.stem < 0 or layout.width < 2:
        # nothing to filter on (or a one-field layout, where a blank line has the width):
        # every line goes through the line loop
        yield from _decoded(buf[start:stop])
        return
    spans: list[_Span] = []
    lines = _odd_lines(buf, start, stop, layout.width, spans)
    add = spans.append
    rfind, find = buf.rfind, buf.find
    pattern = finder.after_space if layout.stem > 0 else finder.anywhere
    for match in pattern.finditer(buf, start, stop):
        position = match.start()
        add((rfind(b"\n", start, position) + 1 or start, find(b"\n", position, stop) + 1))
    for trap in finder.traps:
        lead = trap[:1]
        position = find(lead, start, stop)
        while position >= 0:
            if buf.startswith(trap, position):
                add((rfind(b"\n", start, position) + 1 or start, find(b"\n", position, stop) + 1))
            position = find(lead, position + 1, stop)
    for window in range(start, stop, _WINDOW):
        if find(b"\n", window, min(window + _WINDOW, stop)) < 0:
            add((rfind(b"\n", start, window) + 1 or start, find(b"\n", window, stop) + 1))
    if not line_numbers:
        # the lines between decoded ones are only counted: one run, from the blocks'
        # line counts, stands for all of them
        for span_start, span_end in _merged(spans):
            decoded = _decoded(buf[span_start:span_end])
            lines -= len(decoded)
            yield from decoded
        if lines:
            yield _counted(lines, counts)
        return
    position = start
    count = buf.count
    for span_start, span_end in _merged(spans):
        if span_start > position:
            yield _counted(count(b"\n", position, span_start), counts)
        yield from _decoded(buf[span_start:span_end])
        position = span_end
    if position < stop:
        yield _counted(count(b"\n", position, stop), counts)


def _odd_lines(buf: _Bytes, start: int, stop: int, width: int, spans: list[_Span]) -> int:
    """Add to ``spans`` spans holding every line of ``buf[start:stop]`` not of ``width``
    fields (as bytes, separated by single spaces), found a block at a time; return the
    number of lines."""
    unit = b" " * (width - 1) + b"\n"
    pattern = unit * (2 * _BLOCK // len(unit) + 2)
    find = buf.find
    lines = 0
    while start < stop:
        end = find(b"\n", start + _BLOCK, stop) + 1 or stop
        skeleton = buf[start:end].translate(None, _NOT_SKELETON)
        if pattern.startswith(skeleton):
            lines += len(skeleton) // width
        else:
            lines += skeleton.count(b"\n")
            _split(buf, start, end, pattern, spans)
        start = end
    return lines


def _split(buf: _Bytes, start: int, stop: int, pattern: bytes, spans: list[_Span]) -> None:
    """A block with some line of another width: halve it until the odd lines are found."""
    if stop - start <= _SMALL:
        spans.append((start, stop))
        return
    middle = buf.find(b"\n", (start + stop) // 2, stop) + 1
    if not middle or middle == stop:
        spans.append((start, stop))
        return
    for half_start, half_stop in ((start, middle), (middle, stop)):
        if not pattern.startswith(buf[half_start:half_stop].translate(None, _NOT_SKELETON)):
            _split(buf, half_start, half_stop, pattern, spans)


def _counted(lines: int, counts: ParseStats) -> str:
    counts.requests += lines
    counts.filtered += lines
    return _run(lines)
