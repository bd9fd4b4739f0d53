"""Issue 12: a large WSUS inventory is read in pages and read completely, or named as not
read (never "0 computers" and exit 0). The collector runs against the lab's server
through a stand-in for WinRM that hands each probe script to the simulated host."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import time
import types
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import handlers.collector as collector_module
from bot.cli.digest_cmd import digest_exit_code
from bot.digest.causes import Cause, Digest, ServerNotRead, Sighting
from bot.digest.gather import _inventory_unread
from bot.digest.trend import compare
from bot.usecases.digest import DigestOutcome
from checks.errors import CollectionTimeoutError
from checks.facts import HttpResult, ServerFacts, WsusComputers
from checks.secret import Secret
from handlers.collector import CollectSettings, LiveCollector
from handlers.target import HostTarget
from handlers.winrm import ScriptResult
from lab.estate import Estate
from lab.hosts.script import parse_probe

PAGE = 500
#: the stalled_fleet server: 1,200 fleet computers plus the simulated fleet01 and fleet02
COMPUTERS = 1202

Answer = Callable[[str, dict[str, Any]], Any]


class LabWinrm:
    """Runs each probe script on the simulated host (no transport); records the calls."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.sessions = 0
        #: a run() is a log-on of its own; a session one for all its scripts
        self.log_ons = 0

    @contextlib.contextmanager
    def session(
        self, target: HostTarget, password: Secret | None, *, deadline: float
    ) -> Iterator[Any]:
        """One shell for several scripts (the server's bundle and its pages)."""
        self.sessions += 1
        self.log_ons += 1
        yield types.SimpleNamespace(run=lambda script, when: self._answer(script))

    def run(
        self, target: HostTarget, password: Secret | None, script: str, *, deadline: float
    ) -> ScriptResult:
        self.log_ons += 1
        return self._answer(script)

    def _answer(self, script: str) -> ScriptResult:
        call = parse_probe(script)
        self.calls.append((call.name, call.params))
        document = self.answer(call.name, call.params)
        return ScriptResult(json.dumps(document).encode(), b"", 0)


class NoHttp:
    async def fetch_all(self, urls: Sequence[str]) -> list[HttpResult]:
        return []


@pytest.fixture(scope="module")
def estate(tmp_path_factory: pytest.TempPathFactory) -> Any:
    started = Estate.start("stalled_fleet", workdir=tmp_path_factory.mktemp("lab"))
    yield started
    started.stop()


def target() -> HostTarget:
    return HostTarget(
        name="wsus01",
        role="server",
        address="127.0.0.11",
        winrm_url="http://127.0.0.11:5985/wsman",
        transport="ntlm",
        username="wsusbot",
        password_file=Path("/nonexistent"),
        verify_tls=True,
        ca_bundle=None,
    )


def collect(answer: Answer, page_size: int = PAGE) -> tuple[ServerFacts, LabWinrm]:
    winrm = LabWinrm(answer)
    collector = LiveCollector(
        winrm,  # type: ignore[arg-type]
        NoHttp(),  # type: ignore[arg-type]
        lambda _target: None,
        settings=CollectSettings(inventory_page_size=page_size),
    )
    facts = asyncio.run(collector.collect(target(), time.monotonic() + 30))
    assert isinstance(facts, ServerFacts)
    return facts, winrm


def inventory(facts: ServerFacts) -> WsusComputers:
    assert facts.wsus_computers is not None
    return facts.wsus_computers


def test_pages_make_one_complete_inventory(estate: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    host = estate.host("wsus01")
    # one moment for the pages and the whole list: sync times are "now minus an age"
    moment = host.clock.now()
    monkeypatch.setattr(host.clock, "now", lambda: moment)
    facts, winrm = collect(host.answer)
    document = inventory(facts)
    assert document.computers is not None
    whole = host.answer("wsus_computers", {})["computers"]
    assert [c.name for c in document.computers] == [c["name"] for c in whole]
    assert [c.as_json() for c in document.computers] == whole
    assert (document.total, document.offset, document.next_offset) == (COMPUTERS, 0, None)
    # the first page rides in the bundle; each further page is one command, all of them in
    # one shell (one log-on)
    assert [name for name, _ in winrm.calls] == ["bundle", "wsus_computers", "wsus_computers"]
    assert winrm.sessions == 1
    # as compact pages: rows of values under one header, repeated values as table indexes
    assert winrm.calls[0][1]["probes"]["wsus_computers"] == {
        "offset": 0,
        "page_size": PAGE,
        "format": "rows",
    }
    assert [params for _, params in winrm.calls[1:]] == [
        {"offset": 500, "page_size": PAGE, "format": "rows"},
        {"offset": 1000, "page_size": PAGE, "format": "rows"},
    ]


def test_a_small_inventory_is_still_one_command(estate: Any) -> None:
    facts, winrm = collect(estate.host("wsus01").answer, page_size=5000)
    assert len(inventory(facts).computers or []) == COMPUTERS
    assert [name for name, _ in winrm.calls] == ["bundle"]


def test_a_probe_that_does_not_page_is_taken_whole(estate: Any) -> None:
    host = estate.host("wsus01")

    def unpaged(name: str, params: dict[str, Any]) -> Any:
        document = host.answer(name, params)
        if name == "bundle":  # an older probe: ignores the paging params, no paging keys
            page = host.answer("wsus_computers", {})
            for key in ("total", "offset", "next_offset"):
                page.pop(key)
            document["documents"]["wsus_computers"] = page
        return document

    facts, winrm = collect(unpaged)
    assert len(inventory(facts).computers or []) == COMPUTERS
    assert len(winrm.calls) == 1


def _failing_second_page(host: Any) -> Answer:
    def answer(name: str, params: dict[str, Any]) -> Any:
        if name == "wsus_computers" and params.get("offset") == 500:
            raise CollectionTimeoutError("wsus01: the command did not finish before the deadline")
        return host.answer(name, params)

    return answer


def test_a_page_not_read_leaves_the_inventory_unread_and_says_which(estate: Any) -> None:
    facts, _ = collect(_failing_second_page(estate.host("wsus01")))
    document = inventory(facts)
    assert document.computers is None
    assert document.errors is not None
    message = document.errors[-1].message or ""
    assert document.errors[-1].source == "wsus_computers.pages"
    assert "offset 500" in message
    assert "deadline" in message
    # the server's other facts are still there
    assert facts.wsus is not None
    assert facts.iis_log is not None
    # and the digest names the server with that reason
    reason = _inventory_unread(document)
    assert reason.startswith("WSUS inventory not readable: the page at offset 500")


def test_pages_that_do_not_advance_are_refused(estate: Any) -> None:
    host = estate.host("wsus01")

    def stuck(name: str, params: dict[str, Any]) -> Any:
        document = host.answer(name, params)
        if name == "wsus_computers":
            document["next_offset"] = params["offset"]
        return document

    document = inventory(collect(stuck)[0])
    assert document.computers is None
    assert "names no later page" in (document.errors or [])[-1].message  # type: ignore[operator]


def test_an_inventory_over_the_limit_is_a_named_error(
    estate: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(collector_module, "MAX_INVENTORY_COMPUTERS", 1000)
    document = inventory(collect(estate.host("wsus01").answer)[0])
    assert document.computers is None
    message = (document.errors or [])[-1].message or ""
    assert "inventory too large" in message
    assert "1,202 computers" in message
    assert "MAX_INVENTORY_COMPUTERS" in message


def test_a_server_without_wsus_keeps_its_own_error(estate: Any) -> None:
    host = estate.host("wsus01")

    def no_wsus(name: str, params: dict[str, Any]) -> Any:
        document = host.answer(name, params)
        if name == "bundle":
            document["documents"]["wsus_computers"] = {
                "schema": "wsusbot.wsus_computers/1",
                "computers": None,
                "errors": [{"source": "wsus_computers", "message": "WSUS is not installed"}],
            }
        return document

    document = inventory(collect(no_wsus)[0])
    assert document.computers is None
    assert [e.message for e in document.errors or []] == ["WSUS is not installed"]
    assert _inventory_unread(document) == "WSUS inventory not readable: WSUS is not installed"


def _outcome(digest: Digest) -> DigestOutcome:
    return DigestOutcome(digest, compare(digest.stalled, None), "manual:x", None, None)


def test_the_digest_command_exits_3_when_a_server_is_not_read() -> None:
    now = datetime(2026, 11, 25, 8, tzinfo=UTC)
    complete = Digest("d", now, servers_read=["wsus01"], computers_seen=COMPUTERS)
    assert digest_exit_code(_outcome(complete)) == 0
    unread = Digest("d", now, not_read=[ServerNotRead("wsus01", "bad output")])
    assert digest_exit_code(_outcome(unread)) == 3


def test_digest_add_keeps_the_first_sighting_per_host_and_cause() -> None:
    digest = Digest("d", datetime(2026, 11, 25, 8, tzinfo=UTC))
    digest.add(
        [
            Sighting("a", Cause.STALE_SYNC, "first", weight=1.0),
            Sighting("a", Cause.STALE_SYNC, "second", weight=9.0),
            Sighting("a", Cause.OLD_AGENT, "agent"),
            Sighting("b", Cause.STALE_SYNC, "b"),
        ]
    )
    digest.add([Sighting("b", Cause.STALE_SYNC, "again"), Sighting("c", Cause.STALE_SYNC, "c")])
    assert [(s.host, s.detail) for s in digest.sightings[Cause.STALE_SYNC]] == [
        ("a", "first"),
        ("b", "b"),
        ("c", "c"),
    ]
    assert [s.host for s in digest.sightings[Cause.OLD_AGENT]] == ["a"]
    # a bucket filled directly is still deduplicated against
    digest.sightings[Cause.IIS_FAILURES] = [Sighting("z", Cause.IIS_FAILURES, "direct")]
    digest.add([Sighting("z", Cause.IIS_FAILURES, "later"), Sighting("y", Cause.IIS_FAILURES, "")])
    assert [s.host for s in digest.sightings[Cause.IIS_FAILURES]] == ["z", "y"]


def test_a_pattern_host_is_asked_its_role_and_checked_in_one_log_on(estate: Any) -> None:
    """A host matched by a pattern has no role: the role question (server_facts), then the
    bundle and the inventory pages run in one shell, not one log-on each."""
    winrm = LabWinrm(estate.host("wsus01").answer)
    collector = LiveCollector(
        winrm,  # type: ignore[arg-type]
        NoHttp(),  # type: ignore[arg-type]
        lambda _target: None,
        settings=CollectSettings(inventory_page_size=PAGE),
    )
    role_less = dataclasses.replace(target(), role=None)
    facts = asyncio.run(collector.collect(role_less, time.monotonic() + 30))
    assert isinstance(facts, ServerFacts)
    assert [name for name, _ in winrm.calls] == [
        "server_facts",
        "bundle",
        "wsus_computers",
        "wsus_computers",
    ]
    assert winrm.log_ons == 1
