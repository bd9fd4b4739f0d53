"""checks.w3c: layouts, directives, bad input, gzip, and property tests."""

from __future__ import annotations

import gzip
import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checks import w3c
from checks.w3c import (
    MAX_LINE_CHARS,
    ParseStats,
    SkipReason,
    W3CRecord,
    iter_log_records,
    iter_records,
    open_log,
)

IIS7_FIELDS = (
    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
    "cs(User-Agent) sc-status sc-substatus sc-win32-status time-taken"
)
IIS6_FIELDS = (
    "#Fields: date time s-sitename s-ip cs-method cs-uri-stem cs-uri-query s-port "
    "cs-username c-ip cs(User-Agent) sc-status sc-substatus sc-win32-status"
)
IIS7_LOG = [
    "#Software: Microsoft Internet Information Services 10.0",
    "#Version: 1.0",
    "#Date: 2024-01-05 00:00:00",
    IIS7_FIELDS,
    "2024-01-05 10:00:01 192.168.0.10 GET /selfupdate/wuident.cab - 80 - 10.0.0.5 "
    "Windows-Update-Agent+(WinHTTP) 404 3 50 15",
    "2024-01-05 10:00:02 192.168.0.10 POST /ClientWebService/client.asmx a=1&b=2 8530 "
    "CORP\\svc 10.0.0.6 Mozilla/4.0+(compatible;+MSIE+6.0) 200 0 0 1234",
]
IIS6_LOG = [
    "#Software: Microsoft Internet Information Services 6.0",
    "#Version: 1.0",
    "#Date: 2009-03-02 08:00:00",
    IIS6_FIELDS,
    "2009-03-02 08:00:05 W3SVC1 10.1.1.1 GET /wutrack.bin V=1&U=abc 80 - 10.1.2.3 "
    "Windows+Update+Agent 500 24 0",
]


def parse(lines: list[str]) -> tuple[list[W3CRecord], ParseStats]:
    stats = ParseStats()
    return list(iter_records(lines, source="test", stats=stats)), stats


def test_iis7_default_layout_is_typed() -> None:
    records, stats = parse(IIS7_LOG)
    assert len(records) == 2
    first, second = records
    assert first.time == datetime(2024, 1, 5, 10, 0, 1, tzinfo=UTC)
    assert first.client_ip == "10.0.0.5"
    assert first.method == "GET"
    assert first.uri_stem == "/selfupdate/wuident.cab"
    assert first.uri_query == ""
    assert first.username == ""
    assert (first.status, first.substatus, first.win32_status) == (404, 3, 50)
    assert first.user_agent == "Windows-Update-Agent (WinHTTP)"
    assert first.time_taken_ms == 15
    assert first.site == ""
    assert first.fields["cs-uri-query"] == "-"
    assert first.fields["cs(user-agent)"] == "Windows-Update-Agent+(WinHTTP)"
    assert (first.source, first.line_no) == ("test", 5)
    assert second.uri_query == "a=1&b=2"
    assert second.username == "CORP\\svc"
    assert second.user_agent == "Mozilla/4.0 (compatible; MSIE 6.0)"
    assert (stats.lines, stats.directives, stats.requests, stats.skipped_total) == (6, 4, 2, 0)


def test_iis6_layout_has_site_and_no_time_taken() -> None:
    (record,), _ = parse(IIS6_LOG)
    assert record.site == "W3SVC1"
    assert record.time_taken_ms is None
    assert (record.status, record.substatus) == (500, 24)
    assert record.uri_query == "V=1&U=abc"
    assert record.user_agent == "Windows Update Agent"


def test_custom_layout_in_any_order_dates_from_the_date_directive() -> None:
    records, stats = parse(
        [
            "#Date: 2024-02-29 23:00:00",
            "#Fields: sc-status c-ip time cs-uri-stem",
            "401 10.0.0.9 23:59:59 /iuident.cab",
        ]
    )
    assert stats.skipped_total == 0
    (record,) = records
    assert record.time == datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC)
    assert (record.status, record.client_ip, record.uri_stem) == (401, "10.0.0.9", "/iuident.cab")
    assert record.method == ""
    assert record.substatus is None


def test_layout_without_date_or_time_uses_the_date_directive_whole() -> None:
    (record,), _ = parse(["#Date: 2024-02-01 06:30:00", "#Fields: c-ip sc-status", "1.2.3.4 200"])
    assert record.time == datetime(2024, 2, 1, 6, 30, tzinfo=UTC)


def test_date_field_without_time_field_is_midnight() -> None:
    (record,), _ = parse(["#Fields: date c-ip", "2024-02-01 1.2.3.4"])
    assert record.time == datetime(2024, 2, 1, tzinfo=UTC)


def test_new_fields_directive_governs_the_lines_after_it() -> None:
    records, stats = parse(
        [
            IIS7_FIELDS,
            IIS7_LOG[4],
            IIS6_FIELDS,
            IIS6_LOG[4],
            # same width as the IIS 6 layout: read with its meaning now
            IIS7_LOG[4],
            "#Fields: date time c-ip cs-uri-stem sc-status",
            IIS6_LOG[4],
            "2024-01-06 11:00:00 10.0.0.7 /iuident.cab 403",
        ]
    )
    assert [r.uri_stem for r in records] == [
        "/selfupdate/wuident.cab",
        "/wutrack.bin",
        "",
        "/iuident.cab",
    ]
    assert [r.site for r in records] == ["", "W3SVC1", "192.168.0.10", ""]
    assert records[3].status == 403
    assert stats.skipped == {SkipReason.FIELD_COUNT: 1}


def test_bad_lines_are_counted_not_raised() -> None:
    lines = [
        "2024-01-05 10:00:00 before any fields directive",
        "#Fields: date time c-ip cs-uri-stem sc-status",
        "2024-01-05 10:00:00 10.0.0.1 /wutrack.bin 200 extra",
        "2024-13-45 10:00:00 10.0.0.1 /wutrack.bin 200",
        "2024-01-05 25:61:00 10.0.0.1 /wutrack.bin 200",
        "2024-01-05 10:00:00 10.0.0.1 /wutrack.bin OK",
        "\x00\x00\x00\x00",
        "\x00\x002024-01-05 10:00:00 10.0.0.1 /wutrack.bin 404",
        "x" * (MAX_LINE_CHARS + 1),
        "2024-01-05 10:00:00 10.0.0.\ufffd /wutrack.bin 200",
        "#Fields:",
        "2024-01-05 10:00:00 10.0.0.1 /wutrack.bin 200",
        "#Date: yesterday",
        "",
    ]
    records, stats = parse(lines)
    assert [(r.client_ip, r.status) for r in records] == [("10.0.0.1", 404)]
    assert stats.skipped == {
        SkipReason.NO_FIELDS: 2,
        SkipReason.FIELD_COUNT: 1,
        SkipReason.BAD_DATE: 2,
        SkipReason.BAD_NUMBER: 1,
        SkipReason.TOO_LONG: 1,
        SkipReason.UNDECODABLE: 1,
        SkipReason.BAD_DIRECTIVE: 2,
    }
    assert stats.blank == 2
    assert stats.lines == len(lines)


def test_missing_date_is_skipped_when_no_date_directive() -> None:
    records, stats = parse(["#Fields: time c-ip", "10:00:00 1.2.3.4"])
    assert records == []
    assert stats.skipped == {SkipReason.NO_DATE: 1}


def test_undecodable_bytes_outside_key_fields_keep_the_record() -> None:
    (record,), stats = parse(
        ["#Fields: date time c-ip cs-username cs-uri-stem", "2024-01-05 10:00:00 1.2.3.4 \ufffd /x"]
    )
    assert record.username == "\ufffd"
    assert stats.replaced == 1


def test_stem_prefixes_filter_counts_the_other_requests() -> None:
    stats = ParseStats()
    records = list(
        iter_records(
            [*IIS7_LOG, IIS7_LOG[5].replace("/ClientWebService/client.asmx", "/index.htm")],
            stats=stats,
            stem_prefixes=("/clientwebservice/",),
        )
    )
    assert [r.uri_stem for r in records] == ["/ClientWebService/client.asmx"]
    assert (stats.requests, stats.filtered) == (3, 2)


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_open_log_reads_plain_crlf_and_ansi_bytes(tmp_path: Path) -> None:
    text = "\r\n".join([*IIS7_LOG[:4], IIS7_LOG[4].replace("- 10.0.0.5", "CORP\\y 10.0.0.5")])
    data = text.encode().replace(b"CORP\\y", b"CORP\\\x93\x8c")  # ANSI (Shift-JIS) bytes
    records, stats = parse(list(open_log(write(tmp_path / "u_ex240105.log", data + b"\r\n"))))
    (record,) = records
    assert record.username == "CORP\\\ufffd\ufffd"
    assert stats.replaced == 1


def test_open_log_detects_gzip_by_magic_bytes_not_name(tmp_path: Path) -> None:
    data = gzip.compress("\n".join(IIS7_LOG).encode())
    for name in ("u_ex240105.log", "u_ex240105.log.gz"):
        records, _ = parse(list(open_log(write(tmp_path / name, data))))
        assert [r.status for r in records] == [404, 200]


def test_truncated_gzip_keeps_what_was_read(tmp_path: Path) -> None:
    lines = [*IIS7_LOG, *[IIS7_LOG[4]] * 2000]
    data = gzip.compress("\n".join(lines).encode())
    stats = ParseStats()
    path = write(tmp_path / "rotated.log", data[: len(data) // 2])
    records = list(iter_records(open_log(path, stats=stats), stats=stats))
    assert 0 < len(records) < 2001
    assert stats.skipped[SkipReason.READ_ERROR] == 1


def test_overlong_line_without_newline_is_not_buffered_whole(tmp_path: Path) -> None:
    data = "\n".join(IIS7_LOG[:4]).encode() + b"\n" + b"A" * (MAX_LINE_CHARS * 5)
    data += b"\n" + IIS7_LOG[4].encode() + b"\n"
    lines = list(open_log(write(tmp_path / "big.log", data)))
    assert max(len(line) for line in lines) <= MAX_LINE_CHARS + 2
    records, stats = parse(lines)
    assert [r.status for r in records] == [404]
    assert stats.skipped == {SkipReason.TOO_LONG: 1}


def test_open_log_missing_file_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        open_log(tmp_path / "absent.log")


# ---------------------------------------------------------------- property tests

#: field name -> record attribute, for every field the parser types
TYPED_FIELDS = {
    "c-ip": "client_ip",
    "cs-method": "method",
    "cs-uri-stem": "uri_stem",
    "cs-uri-query": "uri_query",
    "sc-status": "status",
    "sc-substatus": "substatus",
    "sc-win32-status": "win32_status",
    "cs(user-agent)": "user_agent",
    "cs-username": "username",
    "s-sitename": "site",
    "time-taken": "time_taken_ms",
}
NUMBER_FIELDS = {"sc-status", "sc-substatus", "sc-win32-status", "time-taken"}
OTHER_FIELDS = ("s-ip", "s-port", "cs-host")

token = st.text(
    alphabet=st.characters(
        min_codepoint=33, max_codepoint=0x2FFF, blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc")
    ),
    max_size=12,
).filter(lambda value: value != "-" and "#" not in value[:1] and "\x85" not in value)
agent = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=126, blacklist_characters="+"),
    max_size=20,
).filter(lambda value: value != "-")
number = st.one_of(st.none(), st.integers(min_value=0, max_value=2**32))
moment = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda value: value.replace(microsecond=0, tzinfo=UTC)
)


@st.composite
def logs(draw: Any) -> tuple[list[str], list[dict[str, Any]]]:
    names = draw(
        st.lists(
            st.sampled_from([*TYPED_FIELDS, *OTHER_FIELDS, "date", "time"]), unique=True, min_size=1
        )
    )
    names = draw(st.permutations(names))
    base = draw(moment)
    rows = []
    lines = [f"#Date: {base:%Y-%m-%d %H:%M:%S}", "#Fields: " + " ".join(names)]
    for _ in range(draw(st.integers(min_value=0, max_value=5))):
        when = draw(moment)
        if "date" not in names:
            when = when.replace(year=base.year, month=base.month, day=base.day)
            if "time" not in names:
                when = base
        elif "time" not in names:
            when = when.replace(hour=0, minute=0, second=0)
        row: dict[str, Any] = {"time": when}
        values = []
        for name in names:
            if name == "date":
                values.append(f"{when:%Y-%m-%d}")
            elif name == "time":
                values.append(f"{when:%H:%M:%S}")
            elif name in NUMBER_FIELDS:
                value = draw(number)
                row[TYPED_FIELDS[name]] = value
                values.append("-" if value is None else str(value))
            elif name == "cs(user-agent)":
                value = draw(agent)
                row["user_agent"] = value
                values.append(value.replace(" ", "+") or "-")
            else:
                value = draw(token)
                if name in TYPED_FIELDS:
                    row[TYPED_FIELDS[name]] = value
                values.append(value or "-")
        rows.append(row)
        lines.append(" ".join(values))
    return lines, rows


@given(logs())
@settings(max_examples=150, deadline=None)
def test_rendered_records_round_trip(log: tuple[list[str], list[dict[str, Any]]]) -> None:
    lines, rows = log
    records, stats = parse(lines)
    assert stats.skipped_total == 0
    assert len(records) == len(rows)
    for record, row in zip(records, rows, strict=True):
        for attribute, value in row.items():
            assert getattr(record, attribute) == value, attribute
        for attribute in set(TYPED_FIELDS.values()) - set(row):
            assert getattr(record, attribute) in ("", None)


@given(st.lists(st.text(max_size=80), max_size=30), st.booleans())
@settings(max_examples=200, deadline=None)
def test_arbitrary_text_never_raises(lines: list[str], with_header: bool) -> None:
    header = [IIS7_FIELDS] if with_header else []
    stats = ParseStats()
    for record in iter_records(header + lines, stats=stats):
        assert isinstance(record.time, datetime)
    assert stats.lines == len(header) + len(lines)


@given(st.binary(max_size=4000), st.booleans(), st.booleans())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_arbitrary_bytes_never_raise(data: bytes, with_header: bool, compress: bool) -> None:
    if with_header:
        data = "\n".join(IIS7_LOG).encode() + b"\n" + data
    if compress:
        data = gzip.compress(data)[: max(10, len(data) // 2)]
    handle, name = tempfile.mkstemp(suffix=".log")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        stats = ParseStats()
        records = list(iter_records(open_log(name, stats=stats), stats=stats))
        assert stats.requests == len(records)
    finally:
        os.unlink(name)


def test_times_are_utc_and_ordered_within_a_second() -> None:
    records, _ = parse(
        [IIS7_FIELDS, IIS7_LOG[4], IIS7_LOG[4].replace("10:00:01", "10:00:02"), IIS7_LOG[4]]
    )
    assert [r.time - records[0].time for r in records] == [
        timedelta(0),
        timedelta(seconds=1),
        timedelta(0),
    ]
    assert all(r.time.tzinfo is UTC for r in records)


# ---------------------------------------------------------------- the byte scanner

SELFUPDATE = ("/wutrack.bin", "/selfupdate/", "/iuident.cab", "/clientwebservice/")


def _both(path: str, prefixes: tuple[str, ...] | None = SELFUPDATE) -> None:
    """The byte scanner gives what the text reader and the line loop give."""
    expected_stats, got_stats = ParseStats(), ParseStats()
    expected = list(
        iter_records(
            open_log(path, stats=expected_stats),
            source="s",
            stats=expected_stats,
            stem_prefixes=prefixes,
        )
    )
    got = list(iter_log_records(path, source="s", stats=got_stats, stem_prefixes=prefixes))
    assert got == expected
    assert got_stats == expected_stats


#: pieces a line is made of: fields, the separators and line ends that matter to the scanner
piece = st.one_of(
    st.sampled_from(
        [
            "2024-01-05",
            "10:00:01",
            "10.0.0.5",
            "GET",
            "/wutrack.bin",
            "/WUTrack.BIN",
            "/SelfUpdate/wuident.cab",
            "/iuident.cab",
            "/ClientWebService/client.asmx",
            "/images/a.png",
            "/wutrac\u212a.bin",
            "/\u0130uident.cab",
            "Windows-Update-Agent",
            "wsusbot-probe/1",
            "401",
            "200",
            "404",
            "2",
            "-",
            "x" * 40,
        ]
    ),
    st.sampled_from([" ", " ", " ", "  ", "\n", "\r\n", "\r", "\x00", "#", "\ufffd", "\xe9"]),
    st.text(max_size=6),
)
directive = st.sampled_from(
    [
        "#Fields: date time c-ip cs-method cs-uri-stem sc-status sc-substatus",
        "#Fields: date time s-sitename c-ip cs-method cs-uri-stem sc-status",
        "#Fields: cs-uri-stem sc-status",
        "#Fields: cs-uri-stem",
        "#Fields: date time c-ip sc-status",
        "#Date: 2024-01-05 10:00:00",
        "\x00\x00#Fields: time c-ip cs-uri-stem sc-status",
        "#Fields:",
        "#Software: Microsoft Internet Information Services 10.0",
    ]
)
request_line = st.builds(
    lambda date, ip, stem, status: f"{date} 10:00:0{status % 10} {ip} GET {stem} {status} 2",
    st.sampled_from(["2024-01-05", "2024-13-45"]),
    st.sampled_from(["10.0.0.5", "10.0.0.6", "fe80::1%11"]),
    st.sampled_from(["/wutrack.bin", "/SELFUPDATE/x.cab", "/iuident.cab", "/default.htm", "/a"]),
    st.sampled_from([200, 304, 401, 403, 404, 500, 503]),
)
line_text = st.one_of(
    request_line,
    request_line.map(lambda line: line + " "),
    request_line.map(lambda line: line.replace(" 2", "")),
    # the layout's width only with the trailing space, which the line loop strips
    request_line.map(lambda line: line.replace(" 2", " ")),
    # the layout's width, too long
    request_line.map(lambda line: line.replace("GET", "G" * (MAX_LINE_CHARS + 10))),
    directive,
    st.lists(piece, max_size=12).map("".join),
    st.sampled_from(["", " ", "   ", "\x00" * 5, "A" * (MAX_LINE_CHARS + 40)]),
    st.sampled_from(["a b " * 5000, "\u212a" * (MAX_LINE_CHARS // 2), "b\r" * 9000]),
)


@st.composite
def byte_logs(draw: Any) -> bytes:
    lines = draw(st.lists(line_text, max_size=40))
    ending = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = ending.join(lines)
    if draw(st.booleans()):
        text += ending
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        data = data.replace("\xe9".encode(), b"\xe9")  # an ANSI byte, not UTF-8
    return data


# chunks of 2 bytes put every CRLF and every line across a boundary; single bytes (covered by
# tests/checks/test_logscan_scanner.py) make the large examples too slow for the timeout
# the large examples at tiny chunks take minutes on a loaded 2-core machine
@pytest.mark.timeout(900)
@pytest.mark.parametrize("chunk", [2, 7, 64, 1 << 20])
@given(data=byte_logs(), compress=st.booleans(), truncate=st.booleans())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_byte_scanner_equals_the_text_reader(
    chunk: int, data: bytes, compress: bool, truncate: bool
) -> None:
    if compress:
        data = gzip.compress(data)
        if truncate:
            data = data[: max(12, len(data) * 2 // 3)]
    handle, name = tempfile.mkstemp(suffix=".log")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(w3c, "_CHUNK", chunk)
            patch.setattr(w3c, "_BLOCK", max(64, chunk))
            _both(name)
            _both(name, ("/wutrack.bin",))
    finally:
        os.unlink(name)


def test_byte_scanner_on_generated_logs(tmp_path: Path) -> None:
    from bench.bench_logscan import write_log

    for index, crlf in enumerate((False, True)):
        path = tmp_path / f"u_ex24010{index}.log"
        write_log(path, 600_000, seed=index + 3, selfupdate_share=0.02, layout_blocks=3, crlf=crlf)
        _both(str(path))
        gz = tmp_path / f"u_ex24010{index}.log.gz"
        gz.write_bytes(gzip.compress(path.read_bytes())[:-1000])
        _both(str(gz))


def test_byte_scanner_without_prefixes_is_the_line_loop(tmp_path: Path) -> None:
    path = write(tmp_path / "u_ex240105.log", "\n".join([*IIS7_LOG, *IIS6_LOG]).encode())
    _both(str(path), None)
    _both(str(path), ("/caf\u00e9/",))


def test_byte_scanner_missing_file_raises_oserror(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        iter_log_records(tmp_path / "absent.log", stem_prefixes=SELFUPDATE)


def test_case_traps_are_every_non_ascii_character_lowering_to_ascii() -> None:
    traps = {
        chr(code).encode()
        for code in range(128, 0x110000)
        if not 0xD800 <= code < 0xE000 and any(ord(c) < 128 for c in chr(code).lower())
    }
    assert traps == set(w3c._CASE_TRAPS)


def test_kelvin_sign_stem_is_found_as_the_text_reader_finds_it(tmp_path: Path) -> None:
    lines = [IIS7_FIELDS, IIS7_LOG[4].replace("/selfupdate/wuident.cab", "/wutrac\u212a.bin")]
    path = write(tmp_path / "u_ex240105.log", "\n".join(lines).encode())
    records = list(iter_log_records(path, stem_prefixes=("/wutrack.bin",)))
    assert [r.uri_stem for r in records] == ["/wutrac\u212a.bin"]


@pytest.mark.parametrize(
    ("prefixes", "stem"),
    [
        (("/wutrack.bin",), "/wutrac\u212a.bin"),
        # İ lowers to "i" and a combining dot: it matters only where a prefix ends in "i"
        (("/cli",), "/cl\u0130ent.asmx"),
        (("/wutrack.bin", "/x/cli"), "/x/CL\u0130"),
    ],
)
def test_a_case_trap_that_can_make_a_stem_is_searched_for(
    tmp_path: Path, prefixes: tuple[str, ...], stem: str
) -> None:
    lines = [IIS7_FIELDS, IIS7_LOG[4].replace("/selfupdate/wuident.cab", stem)]
    path = write(tmp_path / "u_ex240105.log", "\n".join(lines).encode())
    expected = list(iter_records(open_log(path), stem_prefixes=prefixes))
    assert [r.uri_stem for r in expected] == [stem]
    got = list(iter_log_records(path, stem_prefixes=prefixes))
    assert [r.uri_stem for r in got] == [stem]


def test_only_the_case_traps_that_can_make_a_stem_are_searched_for() -> None:
    finder = w3c._finder(SELFUPDATE)
    assert finder is not None
    # no self-update prefix ends in "i": the dotted capital I cannot make one
    assert finder.traps == ("\u212a".encode(),)
    assert w3c._may_match("\u0130".encode(), ("/cli",))
    assert not w3c._may_match("\u0130".encode(), ("/clientwebservice/",))
    assert not w3c._may_match("\u212a".encode(), ("/selfupdate/",))
