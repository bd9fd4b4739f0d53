"""checks.logscan: aggregation, the 401 handshake rule, JSON shape, incremental reads."""

from __future__ import annotations

import gzip
import itertools
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.bench_logscan import write_log
from checks.logscan import (
    BOT_USER_AGENT_PREFIX,
    FAILING_STATUSES,
    HANDSHAKE_MAX_401,
    HANDSHAKE_WINDOW,
    SELFUPDATE_PATHS,
    ScanResult,
    explain_status,
    first_timestamp,
    is_selfupdate_path,
    scan,
    scan_files,
    scan_lines,
)
from checks.w3c import ParseStats, iter_records, open_log

FIELDS = "#Fields: date time c-ip cs-method cs-uri-stem sc-status sc-substatus"
START = datetime(2024, 1, 5, 10, 0, 0, tzinfo=UTC)


def request(
    seconds: float, client: str, stem: str, status: int, substatus: int = 0, method: str = "GET"
) -> str:
    moment = START + timedelta(seconds=seconds)
    return f"{moment:%Y-%m-%d %H:%M:%S} {client} {method} {stem} {status} {substatus}"


def failures(lines: list[str]) -> list[tuple[str, str, int, int]]:
    result = scan_lines([FIELDS, *lines])
    return [(f.client_ip, f.path, f.status, f.count) for f in result.failures]


def test_selfupdate_paths_are_case_insensitive_prefixes() -> None:
    for stem in (
        "/wutrack.bin",
        "/WUTrack.bin",
        "/selfupdate/wuident.cab",
        "/SelfUpdate/AU/x86/XP/EN/wuaucomp.cab",
        "/iuident.cab",
        "/ClientWebService/client.asmx",
        "/clientwebservice/SimpleAuth.asmx",
    ):
        assert is_selfupdate_path(stem), stem
    for stem in ("/", "/selfupdate", "/images/wutrack.bin", "/ClientWebServices/x", "/iuident"):
        assert not is_selfupdate_path(stem), stem
    assert {401, 403, 404, 500, 503} == FAILING_STATUSES


def test_aggregates_per_client_path_and_status() -> None:
    result = scan_lines(
        [
            FIELDS,
            request(0, "10.0.0.5", "/wutrack.bin", 404),
            request(5, "10.0.0.5", "/WUTRACK.BIN", 404),
            request(9, "10.0.0.5", "/wutrack.bin", 500, 24),
            request(3, "10.0.0.7", "/iuident.cab", 503),
            request(4, "10.0.0.7", "/iuident.cab", 200),
            request(6, "10.0.0.7", "/default.htm", 404),
            request(7, "10.0.0.8", "/selfupdate/AU/x86/XP/EN/wuaucomp.cab", 403, 4),
            "garbage",
        ]
    )
    got = [(f.client_ip, f.path, f.status, f.count, f.substatus) for f in result.failures]
    assert got == [
        ("10.0.0.5", "/wutrack.bin", 404, 2, 0),
        ("10.0.0.5", "/wutrack.bin", 500, 1, 24),
        ("10.0.0.7", "/iuident.cab", 503, 1, 0),
        ("10.0.0.8", "/selfupdate/AU/x86/XP/EN/wuaucomp.cab", 403, 1, 4),
    ]
    first = result.failures[0]
    assert first.first_seen == START
    assert first.last_seen == START + timedelta(seconds=5)
    assert (result.lines, result.requests, result.selfupdate_requests) == (9, 7, 6)
    assert result.status_counts == {404: 2, 500: 1, 503: 1, 200: 1, 403: 1}
    assert result.code_counts == {"404.0": 2, "500.24": 1, "503.0": 1, "200.0": 1, "403.4": 1}
    assert result.skipped == {"field_count": 1}


def test_ntlm_handshake_401_401_200_is_not_reported() -> None:
    lines = [
        request(0, "10.0.0.5", "/ClientWebService/client.asmx", 401, 2),
        request(0, "10.0.0.5", "/ClientWebService/client.asmx", 401, 1),
        request(1, "10.0.0.5", "/ClientWebService/client.asmx", 200),
    ]
    assert failures(lines) == []
    assert scan_lines([FIELDS, *lines]).handshakes == 1


def test_401_without_a_following_success_is_reported() -> None:
    assert failures([request(0, "10.0.0.5", "/wutrack.bin", 401)]) == [
        ("10.0.0.5", "/wutrack.bin", 401, 1)
    ]


def test_success_too_late_does_not_excuse_the_401() -> None:
    late = HANDSHAKE_WINDOW.total_seconds() + 1
    lines = [
        request(0, "10.0.0.5", "/wutrack.bin", 401),
        request(late, "10.0.0.5", "/wutrack.bin", 200),
    ]
    assert failures(lines) == [("10.0.0.5", "/wutrack.bin", 401, 1)]


def test_success_from_another_client_or_path_does_not_excuse_the_401() -> None:
    lines = [
        request(0, "10.0.0.5", "/wutrack.bin", 401),
        request(0, "10.0.0.6", "/wutrack.bin", 200),
        request(0, "10.0.0.5", "/iuident.cab", 200),
    ]
    assert failures(lines) == [("10.0.0.5", "/wutrack.bin", 401, 1)]


def test_a_long_run_of_401_is_not_a_handshake() -> None:
    run = [request(i, "10.0.0.5", "/wutrack.bin", 401) for i in range(HANDSHAKE_MAX_401 + 1)]
    lines = [*run, request(9, "10.0.0.5", "/wutrack.bin", 200)]
    assert failures(lines) == [("10.0.0.5", "/wutrack.bin", 401, HANDSHAKE_MAX_401 + 1)]


def test_401_followed_by_another_failure_is_reported_with_it() -> None:
    lines = [
        request(0, "10.0.0.5", "/wutrack.bin", 401),
        request(1, "10.0.0.5", "/wutrack.bin", 500),
    ]
    assert sorted(failures(lines)) == [
        ("10.0.0.5", "/wutrack.bin", 401, 1),
        ("10.0.0.5", "/wutrack.bin", 500, 1),
    ]


def test_handshake_split_across_two_reads_is_settled_on_resume() -> None:
    first = scan_lines([FIELDS, request(0, "10.0.0.5", "/wutrack.bin", 401)])
    assert [f.status for f in first.failures] == [401]
    resumed = scan_lines([FIELDS, request(1, "10.0.0.5", "/wutrack.bin", 200)], resume=first)
    assert resumed is first
    assert resumed.failures == []
    assert resumed.handshakes == 1


def test_json_shape_and_order() -> None:
    result = scan_lines(
        [
            FIELDS,
            request(0, "10.0.0.9", "/wutrack.bin", 404),
            request(1, "10.0.0.1", "/wutrack.bin", 404),
            request(2, "10.0.0.3", "/iuident.cab", 503),
            request(3, "10.0.0.3", "/iuident.cab", 503),
        ]
    )
    result.files.append("u_ex240105.log")
    document = result.to_json()
    assert list(document) == [
        "files",
        "files_without_fields",
        "lines",
        "requests",
        "skipped_lines",
        "skipped",
        "selfupdate_requests",
        "ignored_requests",
        "handshakes",
        "answers",
        "failures",
    ]
    assert document["files"] == ["u_ex240105.log"]
    assert (document["lines"], document["requests"]) == (5, 4)
    assert document["answers"] == {"404.0": 2, "503.0": 2}
    assert [(f["client_ip"], f["code"], f["count"]) for f in document["failures"]] == [
        ("10.0.0.3", "503.0", 2),
        ("10.0.0.1", "404.0", 1),
        ("10.0.0.9", "404.0", 1),
    ]
    assert document["failures"][0] == {
        "client_ip": "10.0.0.3",
        "path": "/iuident.cab",
        "status": 503,
        "substatus": 0,
        "code": "503.0",
        "substatuses": {"0": 2},
        "count": 2,
        "first_seen": "2024-01-05T10:00:02Z",
        "last_seen": "2024-01-05T10:00:03Z",
        "meaning": explain_status(503, 0),
    }


def test_scan_without_stats_counts_records() -> None:
    records = list(iter_records([FIELDS, request(0, "10.0.0.5", "/wutrack.bin", 404)]))
    result = scan(records)
    assert (result.lines, result.requests, result.selfupdate_requests) == (1, 1, 1)


def test_explain_status_names_the_usual_cause() -> None:
    assert "virtual directory" in explain_status(404)
    assert "MIME" in explain_status(404, 3)
    assert "impersonation" in explain_status(500, 24)
    assert explain_status(500, 24).startswith("HTTP 500.24:")
    assert "WsusPool" in explain_status(503)
    assert "SharePoint" in explain_status(401, 2)
    assert "certificate" in explain_status(403)
    assert explain_status(418) == "HTTP 418: unexpected answer"


def test_scan_files_reads_plain_and_gzip_rotations_in_order(tmp_path: Path) -> None:
    old = tmp_path / "u_ex240104.log"
    old.write_bytes(
        gzip.compress("\n".join([FIELDS, request(0, "10.0.0.5", "/wutrack.bin", 401)]).encode())
    )
    new = tmp_path / "u_ex240105.log"
    new.write_text("\n".join([FIELDS, request(1, "10.0.0.5", "/wutrack.bin", 200)]) + "\n")
    result = scan_files([old, new])
    assert result.files == [str(old), str(new)]
    assert result.failures == []
    assert result.handshakes == 1
    assert (result.lines, result.requests) == (4, 2)


# ---------------------------------------------------------------- incremental reads

CLIENTS = ("10.0.0.1", "10.0.0.2", "10.0.0.3")
STEMS = ("/wutrack.bin", "/Selfupdate/wuident.cab", "/selfupdate/wuident.cab", "/index.htm")
IIS6 = "#Fields: date time s-sitename c-ip cs-method cs-uri-stem sc-status sc-substatus"

event = st.tuples(
    st.integers(min_value=0, max_value=90),
    st.sampled_from(CLIENTS),
    st.sampled_from(STEMS),
    st.sampled_from((200, 304, 401, 401, 403, 404, 500, 503)),
)


def render(events: list[tuple[int, str, str, int]], change_at: int) -> list[str]:
    """A log with a #Date header and a switch to the IIS 6 layout at ``change_at``."""
    lines = [
        "#Software: Microsoft Internet Information Services 6.0",
        f"#Date: {START:%Y-%m-%d %H:%M:%S}",
    ]
    lines.append(FIELDS)
    seconds = 0
    for index, (step, client, stem, status) in enumerate(events):
        if index == change_at:
            lines.append(IIS6)
        seconds += step
        line = request(seconds, client, stem, status)
        if index >= change_at:
            date, time, rest = line.split(" ", 2)
            line = f"{date} {time} W3SVC1 {rest}"
        lines.append(line)
        if index % 7 == 3:
            lines.append("corrupt line")
    return lines


def governing_directives(lines: list[str]) -> list[str]:
    """What the iis_log probe re-sends at a read's start: the directives in force."""
    kept: dict[str, str] = {}
    for line in lines:
        if line.startswith("#"):
            kept[line.split(":", 1)[0]] = line
    return [kept[name] for name in ("#Date", "#Fields") if name in kept]


@given(st.lists(event, max_size=40), st.data())
@settings(max_examples=150, deadline=None)
def test_split_at_any_line_gives_the_whole_result(
    events: list[tuple[int, str, str, int]], data: st.DataObject
) -> None:
    lines = render(events, data.draw(st.integers(min_value=0, max_value=len(events))))
    cut = data.draw(st.integers(min_value=0, max_value=len(lines)))
    head, tail = lines[:cut], lines[cut:]
    resent = governing_directives(head)
    whole = scan_lines(lines)
    parts = scan_lines(resent + tail, resume=scan_lines(head))
    assert parts.failures == whole.failures
    assert parts.requests == whole.requests
    assert parts.selfupdate_requests == whole.selfupdate_requests
    assert parts.handshakes == whole.handshakes
    assert parts.status_counts == whole.status_counts
    assert parts.lines == whole.lines + len(resent)
    assert parts.to_json()["failures"] == whole.to_json()["failures"]


def test_scan_result_starts_empty() -> None:
    result = ScanResult()
    document = result.to_json()
    assert (document["files"], document["lines"], document["failures"]) == ([], 0, [])
    assert document["skipped"] == {}
    assert document["files_without_fields"] == []
    assert ParseStats().skipped_total == 0


# ---------------------------------------------------------------- order independence


def test_a_success_earlier_in_time_never_excuses_a_401() -> None:
    # the success is later in the input but earlier in time: only non-negative gaps count
    lines = [
        request(10, "10.0.0.5", "/wutrack.bin", 401, 2),
        request(5, "10.0.0.5", "/wutrack.bin", 200),
    ]
    assert failures(lines) == [("10.0.0.5", "/wutrack.bin", 401, 1)]
    assert scan_lines([FIELDS, *lines]).handshakes == 0


def test_a_success_in_the_same_second_completes_the_handshake() -> None:
    lines = [
        request(0, "10.0.0.5", "/ClientWebService/client.asmx", 401, 2),
        request(0, "10.0.0.5", "/ClientWebService/client.asmx", 200),
    ]
    assert failures(lines) == []


def _day_files(tmp_path: Path) -> list[Path]:
    """Three consecutive logs; a 401 ends one file and its success opens the next."""
    days = [
        [request(0, "10.0.0.5", "/wutrack.bin", 404), request(50, "10.0.0.6", "/iuident.cab", 401)],
        [
            request(55, "10.0.0.6", "/iuident.cab", 200),
            request(60, "10.0.0.7", "/wutrack.bin", 401),
        ],
        [request(200, "10.0.0.7", "/wutrack.bin", 200), request(300, "10.0.0.8", "/x.htm", 404)],
    ]
    paths = []
    for index, lines in enumerate(days):
        path = tmp_path / f"u_ex24010{5 + index}.log"
        path.write_text("\n".join([FIELDS, *lines]) + "\n")
        paths.append(path)
    return paths


def test_file_order_does_not_change_the_result(tmp_path: Path) -> None:
    paths = _day_files(tmp_path)
    expected = scan_files(paths).to_json()
    assert [(f["client_ip"], f["status"]) for f in expected["failures"]] == [
        ("10.0.0.5", 404),
        ("10.0.0.7", 401),
    ]
    assert expected["handshakes"] == 1
    for order in itertools.permutations(paths):
        assert scan_files(list(order)).to_json() == expected, order


def test_scan_files_reads_in_time_order_and_lists_files_so(tmp_path: Path) -> None:
    paths = _day_files(tmp_path)
    result = scan_files([paths[2], paths[0], paths[1]])
    assert result.files == [str(p) for p in paths]


# ---------------------------------------------------------------- reported, not silent


def test_a_file_without_fields_header_is_reported(tmp_path: Path) -> None:
    good = tmp_path / "u_ex240105.log"
    good.write_text("\n".join([FIELDS, request(0, "10.0.0.5", "/wutrack.bin", 404)]) + "\n")
    bare = tmp_path / "u_ex240106.log"
    bare.write_text(request(90000, "10.0.0.5", "/wutrack.bin", 404) + "\n")
    result = scan_files([good, bare])
    assert result.files_without_fields == [str(bare)]
    assert result.skipped == {"no_fields": 1}
    assert result.to_json()["skipped_lines"] == 1


# ---------------------------------------------------------------- the bot's own requests


def test_bot_requests_are_left_out_by_address_and_user_agent() -> None:
    fields = "#Fields: date time c-ip cs-method cs-uri-stem cs(User-Agent) sc-status sc-substatus"
    lines = [
        fields,
        "2024-01-05 10:00:00 10.0.0.250 GET /selfupdate/wuident.cab Mozilla/5.0 404 0",
        "2024-01-05 10:00:00 FE80::1%11 GET /selfupdate/wuident.cab - 404 0",
        "2024-01-05 10:00:01 10.0.0.9 GET /iuident.cab wsusbot-probe/1 404 0",
        "2024-01-05 10:00:02 10.0.0.5 GET /wutrack.bin Windows-Update-Agent 404 0",
    ]
    result = scan_lines(lines, ignored_client_ips=["10.0.0.250", "fe80::1"])
    assert [(f.client_ip, f.path) for f in result.failures] == [("10.0.0.5", "/wutrack.bin")]
    assert (result.ignored_requests, result.selfupdate_requests) == (3, 1)


def test_the_bot_user_agent_prefix_is_what_the_prober_sends() -> None:
    from handlers.http import USER_AGENT

    assert USER_AGENT.lower().startswith(BOT_USER_AGENT_PREFIX)


# ---------------------------------------------------------------- real published samples

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "iis"


def test_iis75_sample_header_and_counts() -> None:
    # tests/fixtures/iis/README.md: IIS 7.5 default layout, three real request lines
    result = scan_files([FIXTURES / "u_ex160429.log"])
    assert (result.lines, result.requests, result.selfupdate_requests) == (7, 3, 0)
    assert result.skipped_total == 0
    assert result.files_without_fields == []
    assert result.failures == []
    records = list(iter_records((FIXTURES / "u_ex160429.log").read_text().splitlines()))
    assert records[0].time == datetime(2016, 4, 29, 5, 49, 30, tzinfo=UTC)
    assert records[0].user_agent.startswith("Mozilla/5.0 (Windows NT 6.1;")
    assert [(r.status, r.substatus, r.win32_status) for r in records] == [
        (500, 0, 0),
        (200, 0, 0),
        (404, 0, 2),
    ]


def test_wsus_500_24_sample_from_microsoft() -> None:
    # KB 2737219: ASP.NET impersonation on the WSUS site answers every request 500.24
    result = scan_files([FIXTURES / "u_ex_wsus_500_24.log"])
    assert (result.requests, result.selfupdate_requests) == (9, 2)
    assert result.code_counts == {"500.24": 2}
    got = [(f.client_ip, f.path, f.code, f.count) for f in result.failures]
    assert got == [
        ("fe80::e3a4:2b81:92b4:c6e7%11", "/ClientWebService/Client.asmx", "500.24", 1),
        ("fe80::e3a4:2b81:92b4:c6e7%11", "/selfupdate/iuident.cab", "500.24", 1),
    ]
    assert "impersonation" in result.failures[0].to_json()["meaning"]
    # the same address without its zone id is recognised as the bot's
    ignored = scan_files(
        [FIXTURES / "u_ex_wsus_500_24.log"], ignored_client_ips=["fe80::e3a4:2b81:92b4:c6e7"]
    )
    assert ignored.failures == []
    assert ignored.ignored_requests == 2


def test_ntlm_exchange_sample_fits_the_handshake_window() -> None:
    # KB 907273: 401 2, 401 1 at 20:37:42, the 200 at 20:38:36 (credentials typed);
    # the stem is moved onto a self-update path so the handshake rule applies to it
    text = (FIXTURES / "u_ex_ntlm_handshake.log").read_text().splitlines()
    records = list(iter_records(text))
    assert [(r.status, r.substatus) for r in records] == [(401, 2), (401, 1), (200, 0)]
    gap = records[2].time - records[0].time
    assert timedelta(0) <= gap == timedelta(seconds=54) <= HANDSHAKE_WINDOW
    moved = [line.replace("/default.aspx", "/ClientWebService/client.asmx") for line in text]
    result = scan_lines(moved)
    assert result.failures == []
    assert result.handshakes == 1
    assert result.code_counts == {"401.2": 1, "401.1": 1, "200.0": 1}


# ---------------------------------------------------------------- the byte scanner


def _reference_scan(paths: list[Path]) -> ScanResult:
    """What scan_files computed before the byte scanner: every line through the text
    reader and the line loop."""
    result = ScanResult()
    keyed = [(first_timestamp(p), str(p)) for p in paths]
    order = sorted(keyed, key=lambda item: (item[0] is None, item[0] or START, item[1]))
    for name in [name for _, name in order]:
        stats = ParseStats()
        records = iter_records(
            open_log(name, stats=stats), source=name, stats=stats, stem_prefixes=SELFUPDATE_PATHS
        )
        scan(records, stats=stats, resume=result)
        result.files.append(name)
        if stats.layouts == 0:
            result.files_without_fields.append(name)
    return result


def _same(got: ScanResult, expected: ScanResult) -> None:
    assert got.to_json() == expected.to_json()
    assert (got.status_counts, got.code_counts) == (expected.status_counts, expected.code_counts)


def test_scan_files_equals_the_line_by_line_scan_on_generated_logs(tmp_path: Path) -> None:
    paths = []
    for index, (crlf, blocks) in enumerate(((False, 4), (True, 3), (False, 1))):
        path = tmp_path / f"u_ex24010{index + 1}.log"
        write_log(
            path, 400_000, seed=11 + index, selfupdate_share=0.02, layout_blocks=blocks, crlf=crlf
        )
        paths.append(path)
    result = scan_files(paths)
    assert result.failures
    assert result.handshakes
    assert result.skipped
    _same(result, _reference_scan(paths))


log_line = st.one_of(
    st.builds(
        lambda event, agent, pad: (
            request(*event[:3], event[3], 2).replace(" GET ", f" {agent} ") + pad
        ),
        event,
        st.sampled_from(("GET", "wsusbot-probe/1")),
        st.sampled_from(("", "", "", " ", "\r")),
    ),
    st.sampled_from(
        (FIELDS, IIS6, "#Fields: c-ip cs-uri-stem sc-status", "", "\x00\x00\x00", "garbage")
    ),
    st.text(alphabet="/wutrackbinWUTRACKBIN. 0123456789-:\u212a\x00#\r", max_size=40),
)


@given(st.lists(st.lists(log_line, max_size=30), min_size=1, max_size=3), st.booleans())
@settings(max_examples=100, deadline=None)
def test_scan_files_equals_the_line_by_line_scan(files: list[list[str]], crlf: bool) -> None:
    folder = Path(tempfile.mkdtemp())
    try:
        paths = []
        for index, lines in enumerate(files):
            path = folder / f"u_ex2401{index:02d}.log"
            path.write_bytes(("\r\n" if crlf else "\n").join(lines).encode())
            paths.append(path)
        _same(scan_files(paths), _reference_scan(paths))
    finally:
        shutil.rmtree(folder)
