"""W3C files the lab writes, and the iis_log probe's incremental reads over them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from lab.iis.logread import read_incremental
from lab.iis.w3c import LogEntry, W3cLogWriter

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TIME = re.compile(r"^\d{2}:\d{2}:\d{2}$")


def parse_w3c(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """A tiny W3C extended-log reader: directives, and each request line as a dict keyed
    by the #Fields in force (raises if a line has the wrong number of values)."""
    directives: dict[str, str] = {}
    fields: list[str] | None = None
    rows = []
    for line in text.split("\r\n"):
        if not line:
            continue
        if line.startswith("#"):
            name, _, value = line[1:].partition(": ")
            directives[name] = value
            if name == "Fields":
                fields = value.split(" ")
            continue
        assert fields is not None, "a request line before any #Fields"
        values = line.split(" ")
        assert len(values) == len(fields), line
        rows.append(dict(zip(fields, values, strict=True)))
    return directives, rows


def entry(when: datetime, stem: str, status: int = 200, client: str = "10.0.0.1") -> LogEntry:
    return LogEntry(when, "127.0.0.11", "GET", stem, "", 80, "", client, "Windows Update Agent",
                    status)  # fmt: skip


def test_writer_declares_fields_and_escapes_values(tmp_path: Path) -> None:
    writer = W3cLogWriter(tmp_path)
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    writer.append([entry(when, "/wutrack.bin", 404), entry(when, "/iuident.cab")])
    text = (tmp_path / "u_ex260102.log").read_bytes().decode()
    directives, rows = parse_w3c(text)
    assert directives["Software"] == "Microsoft Internet Information Services 7.5"
    assert directives["Version"] == "1.0"
    assert directives["Date"] == "2026-01-02 03:04:05"
    assert [r["sc-status"] for r in rows] == ["404", "200"]
    assert rows[0]["cs(User-Agent)"] == "Windows+Update+Agent"
    assert rows[0]["cs-uri-query"] == "-"
    assert rows[0]["cs-username"] == "-"
    assert text.count("#Fields:") == 1


def test_live_requests_are_logged_with_the_clients_address(start_estate: Any) -> None:
    estate = start_estate("sharepoint_blocks_selfupdate")
    xp, server = estate.host("xp01"), estate.host("wsus01")
    results = xp.answer("client_facts", {})["http"]
    assert [r["status"] for r in results] == [200, 401, 401, 200, 401]
    log_dir = server.default_log_dir()
    today = estate.clock.now().strftime("u_ex%y%m%d.log")
    directives, rows = parse_w3c((log_dir / today).read_bytes().decode())
    assert directives["Fields"].split(" ")[4] == "cs-uri-stem"
    mine = [r for r in rows if r["c-ip"] == xp.address]
    assert [r["cs-uri-stem"] for r in mine] == [
        "/iuident.cab",
        "/selfupdate/wuident.cab",
        "/selfupdate/AU/x86/XP/EN/wuaucomp.cab",
    ]
    assert {r["sc-status"] for r in mine} == {"401"}
    assert {r["s-port"] for r in mine} == {"80"}
    for row in rows:
        assert DATE.match(row["date"])
        assert TIME.match(row["time"])
        assert row["sc-status"].isdigit()
    seeded = {(r["cs-uri-stem"], r["sc-status"]) for r in rows if r["c-ip"].startswith("10.")}
    assert ("/wutrack.bin", "403") in seeded


def test_clientwebservice_requests_go_to_the_wsus_site_log(start_estate: Any) -> None:
    estate = start_estate("healthy")
    xp, server = estate.host("xp01"), estate.host("wsus01")
    xp.answer("client_facts", {})
    today = estate.clock.now().strftime("u_ex%y%m%d.log")
    _, rows = parse_w3c((server.log_root / "W3SVC2" / today).read_bytes().decode())
    assert [(r["cs-uri-stem"], r["s-port"], r["c-ip"]) for r in rows] == [
        ("/ClientWebService/client.asmx", "8530", xp.address),
        ("/selfupdate/wuident.cab", "8530", xp.address),
    ]


def write(path: Path, text: str) -> None:
    path.write_bytes(text.replace("\n", "\r\n").encode())


FIELDS = "#Fields: date time s-ip cs-method cs-uri-stem s-port c-ip sc-status"
HEAD = f"#Software: Microsoft Internet Information Services 7.5\n#Version: 1.0\n{FIELDS}\n"


def line(stem: str, status: int = 200) -> str:
    return f"2026-01-02 03:04:05 127.0.0.11 GET {stem} 80 10.0.0.1 {status}"


def test_incremental_reads(tmp_path: Path) -> None:
    old = tmp_path / "u_ex260101.log"
    new = tmp_path / "u_ex260102.log"
    write(old, HEAD + line("/wutrack.bin", 404) + "\n")
    write(new, HEAD + line("/default.htm") + "\n" + line("/iuident.cab", 401) + "\n")

    first = read_incremental(tmp_path, None, 1 << 20)
    assert [f["name"] for f in first.files] == [old.name, new.name]
    assert first.lines == [FIELDS, line("/iuident.cab", 401)]
    assert first.cursor == {"file": new.name, "offset": new.stat().st_size}

    again = read_incremental(tmp_path, first.cursor, 1 << 20)
    assert again.lines == [FIELDS]
    assert again.cursor == first.cursor

    with new.open("ab") as handle:
        handle.write((line("/Selfupdate/wuident.cab", 500) + "\r\n").encode())
        handle.write(b"2026-01-02 03:04:06 127.0.0.11 GET /wutrack.bin 80 10.0.0.2")  # partial
    grown = read_incremental(tmp_path, first.cursor, 1 << 20)
    assert grown.lines == [FIELDS, line("/Selfupdate/wuident.cab", 500)]
    assert grown.cursor is not None
    assert grown.cursor["offset"] < new.stat().st_size


def test_later_files_from_zero_and_truncation(tmp_path: Path) -> None:
    first = tmp_path / "u_ex260101.log"
    second = tmp_path / "u_ex260102.log"
    write(first, HEAD + line("/wutrack.bin", 404) + "\n")
    write(second, HEAD + line("/selfupdate/x.cab", 404) + "\n")
    cursor = {"file": first.name, "offset": first.stat().st_size}
    read = read_incremental(tmp_path, cursor, 1 << 20)
    assert read.lines == [FIELDS, FIELDS, line("/selfupdate/x.cab", 404)]
    assert read.cursor == {"file": second.name, "offset": second.stat().st_size}

    write(second, HEAD)  # rotated: now smaller than the cursor offset
    assert read.cursor is not None
    after = read_incremental(tmp_path, read.cursor, 1 << 20)
    assert after.lines == [FIELDS]
    assert after.cursor == {"file": second.name, "offset": len(HEAD.replace("\n", "\r\n"))}


def test_fields_change_mid_file(tmp_path: Path) -> None:
    other = "#Fields: date time cs-uri-stem sc-status"
    path = tmp_path / "u_ex260101.log"
    write(path, HEAD + line("/wutrack.bin") + f"\n{other}\n2026-01-02 03:04:05 /iuident.cab 404\n"
          "2026-01-02 03:04:05 /index.htm 404\n")  # fmt: skip
    read = read_incremental(tmp_path, None, 1 << 20)
    assert read.lines == [
        FIELDS,
        line("/wutrack.bin"),
        other,
        "2026-01-02 03:04:05 /iuident.cab 404",
    ]
    middle = {"file": path.name, "offset": path.read_bytes().index(b"2026-01-02 03:04:05 /iuident")}
    resumed = read_incremental(tmp_path, middle, 1 << 20)
    assert resumed.lines == [other, "2026-01-02 03:04:05 /iuident.cab 404"]


def test_max_bytes_pages_through_everything(tmp_path: Path) -> None:
    path = tmp_path / "u_ex260101.log"
    body = "".join(line("/wutrack.bin", 400 + i) + "\n" for i in range(20))
    write(path, HEAD + body)
    collected: list[str] = []
    cursor: dict[str, Any] | None = {"file": path.name, "offset": 0}
    for _ in range(50):
        page = read_incremental(tmp_path, cursor, 150)
        collected += [entry for entry in page.lines if not entry.startswith("#")]
        if page.cursor == cursor:
            break
        cursor = page.cursor
    assert collected == [line("/wutrack.bin", 400 + i) for i in range(20)]
    assert cursor == {"file": path.name, "offset": path.stat().st_size}


def test_probe_reads_default_dir_and_refuses_foreign_paths(start_estate: Any) -> None:
    estate = start_estate("iis_log_errors")
    server = estate.host("wsus01")
    document = server.answer("iis_log", {"log_dir": None, "cursor": None, "max_bytes": 1 << 20})
    statuses = {row.split(" ")[10] for row in document["lines"] if not row.startswith("#")}
    assert {"404", "403", "500"} <= statuses
    assert document["errors"] == []
    follow = server.answer("iis_log", {"cursor": document["cursor"], "max_bytes": 1 << 20})
    assert [row for row in follow["lines"] if not row.startswith("#")] == []
    foreign = server.answer("iis_log", {"log_dir": "/etc", "cursor": None, "max_bytes": 100})
    assert foreign["lines"] == []
    assert foreign["errors"][0]["source"] == "iis_log"


def test_history_older_than_a_day_lands_in_earlier_files(start_estate: Any) -> None:
    estate = start_estate("healthy")
    server = estate.host("wsus01")
    names = sorted(p.name for p in server.default_log_dir().glob("*.log"))
    two_days_ago = (estate.clock.now() - timedelta(days=2)).strftime("u_ex%y%m%d.log")
    assert names[0] == two_days_ago
    assert names[-1] == estate.clock.now().strftime("u_ex%y%m%d.log")


def test_a_line_longer_than_max_bytes_still_advances(tmp_path: Path) -> None:
    path = tmp_path / "u_ex260101.log"
    long_stem = "/wutrack.bin" + "x" * 300
    write(path, HEAD + line(long_stem, 404) + "\n")
    cursor = {"file": path.name, "offset": len(HEAD.replace("\n", "\r\n"))}
    read = read_incremental(tmp_path, cursor, 50)
    assert read.lines == [FIELDS, line(long_stem, 404)]
    assert read.cursor == {"file": path.name, "offset": path.stat().st_size}
