"""The fast logscan reader: chunk boundaries, layouts, line ends and the search pipeline.

Every case is scanned with several chunk sizes (so lines, directives and ``\\r\\n`` fall
across chunk boundaries), in this process and through the search pipeline, and must give
both the explicit figures written here and what the line-by-line text reader gives.
"""

from __future__ import annotations

import gzip
import multiprocessing
import tempfile
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from bench.bench_logscan import write_log
from checks import w3c
from checks.logscan import SELFUPDATE_PATHS, ScanResult, scan_files
from checks.w3c import ParseStats, can_pipeline, iter_log_records
from tests.checks.test_logscan import _reference_scan, _same
from tests.checks.test_w3c import byte_logs

IIS7 = (
    "#Fields: date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip "
    "cs(User-Agent) sc-status sc-substatus sc-win32-status time-taken"
)
#: the stem first: the search cannot rely on a space before it
STEM_FIRST = "#Fields: cs-uri-stem date time c-ip sc-status sc-substatus"

needs_fork = pytest.mark.skipif(not can_pipeline(), reason="the pipeline needs fork and 2 CPUs")
CHUNKS = [1, 5, 64, 4096, 1 << 20]
MODES = [False, pytest.param(True, marks=needs_fork, id="pipeline")]


def iis7(second: int, stem: str, status: int, query: str = "-", client: str = "10.0.0.5") -> str:
    return (
        f"2024-01-05 10:00:{second:02d} 192.168.0.10 GET {stem} {query} 80 - {client} "
        f"Windows-Update-Agent {status} 0 0 15"
    )


#: ways to deal the units of a pipeline: this process searching some (the default), two
#: searchers and this process only parsing, and this process first
DEALS = [w3c.DEAL, (1, 2), (0, 1, 1)]


def scanned(tmp_path: Path, data: bytes, chunk: int, pipeline: bool) -> ScanResult:
    path = tmp_path / "u_ex240105.log"
    path.write_bytes(data)
    expected = _reference_scan([path])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(w3c, "_CHUNK", chunk)
        patch.setattr(w3c, "_BLOCK", max(64, chunk))
        for deal in DEALS if pipeline else DEALS[:1]:
            patch.setattr(w3c, "DEAL", deal)
            result = scan_files([path], pipeline=pipeline)
            _same(result, expected)
    return result


def failures(result: ScanResult) -> list[tuple[str, str, int, int]]:
    return [(f.client_ip, f.path, f.status, f.count) for f in result.failures]


@pytest.mark.parametrize("pipeline", MODES)
@pytest.mark.parametrize("chunk", CHUNKS)
def test_a_line_split_across_chunks_is_read_whole(
    tmp_path: Path, chunk: int, pipeline: bool
) -> None:
    lines = [IIS7, iis7(1, "/default.htm", 200), iis7(2, "/wutrack.bin", 404)]
    lines += [iis7(3, "/images/a.png", 200)] * 40 + [iis7(4, "/selfupdate/wuident.cab", 503)]
    result = scanned(tmp_path, "\n".join(lines).encode() + b"\n", chunk, pipeline)
    assert (result.lines, result.requests, result.selfupdate_requests) == (44, 43, 2)
    assert failures(result) == [
        ("10.0.0.5", "/selfupdate/wuident.cab", 503, 1),
        ("10.0.0.5", "/wutrack.bin", 404, 1),
    ]


@pytest.mark.parametrize("pipeline", MODES)
@pytest.mark.parametrize("chunk", CHUNKS)
def test_a_fields_directive_in_the_middle_governs_what_follows(
    tmp_path: Path, chunk: int, pipeline: bool
) -> None:
    lines = [IIS7, *[iis7(1, "/default.htm", 200)] * 30, iis7(2, "/iuident.cab", 404)]
    lines += [
        STEM_FIRST,
        "/WUTrack.bin 2024-01-05 10:00:03 10.0.0.6 500 0",
        "/app/page.aspx 2024-01-05 10:00:03 10.0.0.6 200 0",
        # the old layout's width: refused under the new one
        iis7(4, "/wutrack.bin", 404),
        *["/css/site.css 2024-01-05 10:00:05 10.0.0.7 200 0"] * 30,
        IIS7,
        iis7(6, "/ClientWebService/client.asmx", 500),
    ]
    result = scanned(tmp_path, "\n".join(lines).encode() + b"\n", chunk, pipeline)
    assert result.lines == len(lines)
    assert result.requests == 31 + 2 + 30 + 1
    assert result.skipped == {"field_count": 1}
    assert failures(result) == [
        ("10.0.0.5", "/ClientWebService/client.asmx", 500, 1),
        ("10.0.0.5", "/iuident.cab", 404, 1),
        ("10.0.0.6", "/WUTrack.bin", 500, 1),
    ]


@pytest.mark.parametrize("pipeline", MODES)
@pytest.mark.parametrize("chunk", CHUNKS)
def test_crlf_and_a_lone_cr_end_lines_as_the_text_reader_ends_them(
    tmp_path: Path, chunk: int, pipeline: bool
) -> None:
    lines = [IIS7, iis7(1, "/wutrack.bin", 404), *[iis7(2, "/a.png", 200)] * 20]
    data = "\r\n".join(lines).encode() + b"\r\n"
    # a lone CR ends a line too: two requests, the second a failure
    data += (iis7(3, "/a.png", 200) + "\r" + iis7(3, "/iuident.cab", 403) + "\r\n").encode()
    # a request ending in a space before CRLF has one field too few once stripped
    data += (iis7(4, "/wutrack.bin", 500)[: -len(" 15")] + " \r\n").encode()
    result = scanned(tmp_path, data, chunk, pipeline)
    assert (result.lines, result.requests) == (25, 23)
    assert result.skipped == {"field_count": 1}
    assert failures(result) == [
        ("10.0.0.5", "/iuident.cab", 403, 1),
        ("10.0.0.5", "/wutrack.bin", 404, 1),
    ]


@pytest.mark.parametrize("pipeline", MODES)
@pytest.mark.parametrize("chunk", CHUNKS)
def test_upper_case_stems_are_self_update_requests(
    tmp_path: Path, chunk: int, pipeline: bool
) -> None:
    stems = ["/WUTRACK.BIN", "/SelfUpdate/wuident.cab", "/IUIDENT.CAB", "/wutrac\u212a.bin"]
    lines = [IIS7, *(iis7(i, stem, 404, client=f"10.0.0.{i}") for i, stem in enumerate(stems))]
    result = scanned(tmp_path, "\n".join(lines).encode(), chunk, pipeline)
    assert result.selfupdate_requests == 4
    # a path is one group whatever its case; each keeps the first spelling seen
    assert [(f.client_ip, f.path) for f in result.failures] == [
        (f"10.0.0.{i}", "/WUTRACK.BIN" if i == 3 else stem) for i, stem in enumerate(stems)
    ]


@pytest.mark.parametrize("pipeline", MODES)
@pytest.mark.parametrize("chunk", CHUNKS)
def test_a_stem_only_in_the_query_string_is_not_a_self_update_request(
    tmp_path: Path, chunk: int, pipeline: bool
) -> None:
    lines = [
        IIS7,
        iis7(1, "/default.htm", 404, query="/wutrack.bin"),
        iis7(2, "/search.aspx", 404, query="q=/selfupdate/wuident.cab"),
        iis7(3, "/images/a.png", 404, client="/iuident.cab"),
    ]
    result = scanned(tmp_path, "\n".join(lines).encode() + b"\n", chunk, pipeline)
    assert (result.requests, result.selfupdate_requests, result.failures) == (3, 0, [])


@pytest.mark.parametrize("pipeline", MODES)
@pytest.mark.parametrize("chunk", CHUNKS)
def test_a_line_with_a_field_too_many_and_one_with_a_field_too_few_in_one_block(
    tmp_path: Path, chunk: int, pipeline: bool
) -> None:
    # the block holds as many spaces as well-formed lines would: only the per-line
    # skeleton, not a count of spaces and newlines, tells these two lines apart
    good = iis7(1, "/a.png", 200)
    lines = [IIS7, *[good] * 10, good + " 7", *[good] * 5, good[: good.rindex(" ")]]
    lines += [*[good] * 10, iis7(2, "/wutrack.bin", 404) + " x", iis7(3, "/iuident.cab", 503)]
    result = scanned(tmp_path, "\n".join(lines).encode() + b"\n", chunk, pipeline)
    assert (result.lines, result.requests) == (len(lines), len(lines) - 4)
    assert result.skipped == {"field_count": 3}
    assert failures(result) == [("10.0.0.5", "/iuident.cab", 503, 1)]


@pytest.mark.parametrize("pipeline", MODES)
@pytest.mark.parametrize("chunk", CHUNKS)
def test_nul_bytes_mid_line_and_before_a_directive(
    tmp_path: Path, chunk: int, pipeline: bool
) -> None:
    lines = [IIS7, iis7(1, "/wutrack.bin", 404), iis7(2, "/a\x00b.png", 200)]
    lines += [iis7(3, "/wutr\x00ack.bin", 404), "\x00\x00" + STEM_FIRST]
    lines += ["/WUTRACK.BIN 2024-01-05 10:00:04 10.0.0.6 500 0", "\x00" * 30, IIS7]
    lines += [iis7(5, "/SelfUpdate/x.cab", 403)]
    result = scanned(tmp_path, "\n".join(lines).encode() + b"\n", chunk, pipeline)
    # the NUL-only line is blank, the NUL-led directive is one
    assert (result.lines, result.requests, result.skipped) == (9, 5, {})
    assert failures(result) == [
        ("10.0.0.5", "/SelfUpdate/x.cab", 403, 1),
        ("10.0.0.5", "/wutrack.bin", 404, 1),
        # a path keeps the first spelling seen
        ("10.0.0.6", "/wutrack.bin", 500, 1),
    ]


@pytest.mark.parametrize("pipeline", MODES)
def test_a_stem_split_at_every_offset_across_a_chunk_boundary(
    tmp_path: Path, pipeline: bool
) -> None:
    head = "\n".join([IIS7, *[iis7(1, "/a.png", 200)] * 3]) + "\n"
    line = iis7(2, "/SelfUpdate/wuident.cab", 404)
    stem_at = len(head.encode()) + line.index("/SelfUpdate")
    data = (head + line + "\n" + iis7(3, "/b.png", 200) + "\n").encode()
    for cut in range(stem_at - 1, stem_at + len("/SelfUpdate/") + 1):
        result = scanned(tmp_path, data, cut, pipeline)
        assert failures(result) == [("10.0.0.5", "/SelfUpdate/wuident.cab", 404, 1)], cut


def remark(size: int) -> str:
    """A ``#Remark`` line of ``size`` bytes with its newline (padding that is a directive)."""
    return "#Remark: " + "x" * (size - len("#Remark: ") - 1) + "\n"


@pytest.mark.parametrize("pipeline", MODES)
def test_a_layout_read_in_another_process_unit_governs_this_process_search(
    tmp_path: Path, pipeline: bool
) -> None:
    # units of 256 bytes, dealt (1, 0, 1): the layout with the stem inside is read in
    # unit 1 (searched here), the one of the same width with the stem first in unit 3
    # (the searcher's), and unit 4 (here) holds a stem at the start of a line, which only
    # the second layout lets the search find
    inside = "#Fields: date time c-ip cs-uri-stem sc-status sc-substatus\n"
    units = [
        remark(256),
        inside + remark(256 - len(inside)),
        remark(256),
        STEM_FIRST + "\n" + remark(256 - len(STEM_FIRST) - 1),
        "/wutrack.bin 2024-01-05 10:00:04 10.0.0.6 500 0\n",
    ]
    assert [len(unit) for unit in units[:4]] == [256] * 4
    path = tmp_path / "u_ex240105.log"
    path.write_bytes("".join(units).encode())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(w3c, "_CHUNK", 256)
        patch.setattr(w3c, "DEAL", (1, 0, 1))
        result = scan_files([path], pipeline=pipeline)
    _same(result, _reference_scan([path]))
    assert failures(result) == [("10.0.0.6", "/wutrack.bin", 500, 1)]


@pytest.mark.parametrize("pipeline", MODES)
def test_an_empty_file_has_no_lines_and_no_layout(tmp_path: Path, pipeline: bool) -> None:
    result = scanned(tmp_path, b"", 1 << 20, pipeline)
    assert (result.lines, result.requests, result.failures) == (0, 0, [])
    assert result.files_without_fields == [str(tmp_path / "u_ex240105.log")]


@pytest.mark.parametrize("pipeline", MODES)
@pytest.mark.parametrize("chunk", CHUNKS)
def test_the_last_line_without_a_newline_is_read(
    tmp_path: Path, chunk: int, pipeline: bool
) -> None:
    lines = [IIS7, *[iis7(1, "/a.png", 200)] * 10, iis7(2, "/selfupdate/x.cab", 404)]
    result = scanned(tmp_path, "\n".join(lines).encode(), chunk, pipeline)
    assert (result.lines, result.requests, result.selfupdate_requests) == (12, 11, 1)
    assert failures(result) == [("10.0.0.5", "/selfupdate/x.cab", 404, 1)]


@needs_fork
@pytest.mark.timeout(900)
@pytest.mark.parametrize("deal", DEALS)
@pytest.mark.parametrize("chunk", [7, 64, 1 << 20])
@given(data=byte_logs())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_pipeline_gives_the_records_and_counts_of_one_process(
    chunk: int, deal: tuple[int, ...], data: bytes
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "u_ex240105.log"
        path.write_bytes(data)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(w3c, "_CHUNK", chunk)
            patch.setattr(w3c, "_BLOCK", max(64, chunk))
            patch.setattr(w3c, "DEAL", deal)
            runs = []
            for pipeline in (False, True):
                stats = ParseStats()
                records = iter_log_records(
                    path,
                    stats=stats,
                    stem_prefixes=SELFUPDATE_PATHS,
                    line_numbers=False,
                    pipeline=pipeline,
                )
                runs.append(([r._replace(line_no=0) for r in records], stats))
    assert runs[0] == runs[1]


@needs_fork
def test_the_pipeline_reads_generated_and_gzip_logs_as_one_process(tmp_path: Path) -> None:
    path = tmp_path / "u_ex240105.log"
    write_log(path, 300_000, seed=5, selfupdate_share=0.03, layout_blocks=3, crlf=True)
    gz = tmp_path / "u_ex240106.log"
    gz.write_bytes(gzip.compress(path.read_bytes())[:-500])  # truncated: a read error
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(w3c, "_CHUNK", 16 * 1024)
        for name in (path, gz):
            _same(scan_files([name], pipeline=True), scan_files([name], pipeline=False))
    assert scan_files([gz], pipeline=True).skipped["read_error"] == 1


@needs_fork
def test_a_pipe_that_cannot_be_widened_keeps_its_size(tmp_path: Path) -> None:
    path = tmp_path / "u_ex240105.log"
    write_log(path, 300_000, seed=3, selfupdate_share=0.03, layout_blocks=2)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(w3c, "_CHUNK", 16 * 1024)
        patch.setattr(w3c, "_PIPE_BYTES", -1)  # refused by F_SETPIPE_SZ (EINVAL)
        _same(scan_files([path], pipeline=True), _reference_scan([path]))


@needs_fork
def test_an_abandoned_pipeline_leaves_no_process(tmp_path: Path) -> None:
    path = tmp_path / "u_ex240105.log"
    write_log(path, 2_000_000, seed=2, selfupdate_share=0.05)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(w3c, "_CHUNK", 4096)
        records = iter_log_records(path, stem_prefixes=SELFUPDATE_PATHS, pipeline=True)
        assert next(records).uri_stem
        assert multiprocessing.active_children()
        records.close()  # type: ignore[attr-defined]
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize("pipeline", MODES)
def test_memory_is_bounded_by_the_chunk_not_the_file(tmp_path: Path, pipeline: bool) -> None:
    path = tmp_path / "u_ex240105.log"
    write_log(path, 12 * 1024 * 1024, seed=7)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(w3c, "_CHUNK", 512 * 1024)
        tracemalloc.start()
        try:
            result = scan_files([path], pipeline=pipeline)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert result.lines > 70_000
    assert result.failures
    # a few chunks (the read, its translation, a unit's lines) and the groups: not the file
    assert peak < 4 * 1024 * 1024
