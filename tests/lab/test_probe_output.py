"""The lab's stdout is the probes' own bytes (lab.hosts.psjson mirrors the JSON writer of
handlers/probes/lib/common.psm1), and the WSUS inventory's compact page (``format:
"rows"``) is the same inventory as one object per computer."""

from __future__ import annotations

import json
from typing import Any

from lab.hosts.psjson import probe_json
from tests.lab.conftest import probe_script
from tests.lab.test_executor import staged


def test_strings_are_escaped_as_the_probe_writer_escapes_them() -> None:
    # ConvertTo-WsusbotJsonString: '"' and '\' by backslash, everything outside 0x20-0x7E
    # as \u + four lower-case hex digits of its UTF-16 code unit (no \n, \t short forms)
    text = 'a"b\\c\nd\te\r\x7f\x01é€😀 \\n/'
    expected = (
        '"a\\"b\\\\c\\u000ad\\u0009e\\u000d\\u007f\\u0001\\u00e9\\u20ac\\ud83d\\ude00 \\\\n/"'
    )
    assert probe_json(text) == expected.encode("ascii")
    assert json.loads(probe_json(text)) == text


def test_documents_are_compact_in_insertion_order() -> None:
    document = {"schema": "s/1", "b": [1, None, True, False], "a": {}, "c": [], "errors": []}
    assert (
        probe_json(document)
        == b'{"schema":"s/1","b":[1,null,true,false],"a":{},"c":[],"errors":[]}'
    )


def test_numbers_are_written_as_the_probe_writes_them() -> None:
    # [int] invariant; [double] with 'R': no '.0' on integral values; NaN/infinity null
    values = [0, -5, 2**40, 15.0, 12.5, -0.25, float("nan"), float("inf")]
    assert probe_json(values) == b"[0,-5,1099511627776,15,12.5,-0.25,null,null]"
    nested = {"http": [{"elapsed_ms": 3.0}, {"elapsed_ms": 3.5}]}
    assert probe_json(nested) == b'{"http":[{"elapsed_ms":3},{"elapsed_ms":3.5}]}'
    assert nested["http"][0]["elapsed_ms"] == 3.0  # the document itself is not changed


def _page(host: Any, params: dict[str, Any]) -> bytes:
    result = host(staged(probe_script("wsus_computers", params)))
    assert result.exit_code == 0
    return bytes(result.stdout)


def test_a_compact_page_is_the_same_inventory(start_estate: Any) -> None:
    host = start_estate("stalled_fleet").host("wsus01")
    params = {"offset": 1000, "page_size": 500}
    objects = json.loads(_page(host, params))
    raw = _page(host, {**params, "format": "rows"})
    # keys in the order the probe sets them; its writer adds 'errors' last
    assert raw.startswith(
        b'{"schema":"wsusbot.wsus_computers/1","columns":["name","ip","client_version","os",'
        b'"last_sync_time","last_reported_status_time","last_sync_result","target_group"],'
        b'"tables":{"client_version":['
    )
    assert raw.endswith(b'"total":1202,"offset":1000,"next_offset":null,"errors":[]}')
    page = json.loads(raw)
    assert list(page) == [
        "schema",
        "columns",
        "tables",
        "rows",
        "total",
        "offset",
        "next_offset",
        "errors",
    ]
    tables = page["tables"]
    assert list(tables) == ["client_version", "os", "last_sync_result", "target_group"]
    decoded = []
    for row in page["rows"]:
        entry = dict(zip(page["columns"], row, strict=True))
        for column, values in tables.items():
            entry[column] = None if entry[column] is None else values[entry[column]]
        decoded.append(entry)
    assert decoded == objects["computers"]
    # each table lists its values once, in order of first sight on the page
    seen: list[str] = []
    for entry in decoded:
        if entry["os"] not in seen:
            seen.append(entry["os"])
    assert tables["os"] == seen
    assert len(raw) * 2 < len(_page(host, params))
    assert list(objects) == ["schema", "computers", "total", "offset", "next_offset", "errors"]


def test_a_server_without_wsus_has_no_inventory_in_either_format(start_estate: Any) -> None:
    host = start_estate("legacy_sus_server").host("sus01")
    for params in ({}, {"format": "rows"}):
        page = json.loads(_page(host, params))
        assert page["computers"] is None
        assert "rows" not in page
        assert "Unable to find type" in page["errors"][0]["message"]
