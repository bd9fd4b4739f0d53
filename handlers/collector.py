"""Collect one host's facts: ONE WinRM command (a probe or a bundle of probes) plus the
bot-side HTTP probes, run concurrently (docs/architecture.md, "Data flow")."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import Executor
from contextlib import AbstractContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from checks.errors import BadOutputError, CollectionError, FactsError, ProbeFailedError
from checks.facts import (
    BUNDLE,
    CLIENT_FACTS,
    IIS_LOG,
    SERVER_FACTS,
    WSUS_COMPUTERS,
    ClientFacts,
    HostFacts,
    HttpResult,
    LogCursor,
    ServerFacts,
    WsusComputer,
    decode_text,
    load_json,
    parse_document,
    read_computer_rows,
    read_computers,
)
from checks.secret import Secret
from handlers.http import HttpProber, server_probe_urls
from handlers.probes import compose
from handlers.target import HostTarget
from handlers.winrm import ScriptResult, ShellSession, WinrmClient

T = TypeVar("T")

PasswordSource = Callable[[HostTarget], Secret | None]
CursorSource = Callable[[HostTarget], LogCursor | None]


@dataclass(frozen=True, slots=True)
class ServerEndpoints:
    """How the bot itself reaches a WSUS server named in a client's policy."""

    names: frozenset[str]
    wsus_url: str | None
    selfupdate_url: str | None


@dataclass(frozen=True, slots=True)
class CollectSettings:
    probe_timeout_ms: int = 5000
    iis_log_max_bytes: int = 64 * 1024 * 1024
    #: computers per page of the WSUS inventory: the first page rides in the server
    #: bundle, each further page is one more command (a compact page of 50,000 is ~5 MiB
    #: of JSON, well inside the facts document and WinRM output limits)
    inventory_page_size: int = 50_000


#: an inventory larger than this is not read (named in the document's errors, so the
#: server check says unknown and the digest names the server as not read)
MAX_INVENTORY_COMPUTERS = 1_000_000


def _host_of(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return (urlsplit(url).hostname or "").lower() or None
    except ValueError:
        return None


def decode_probe_output(host: str, result: ScriptResult) -> Any:
    if result.exit_code != 0:
        message = _clean_stderr(result.stderr) or f"exit code {result.exit_code}"
        raise ProbeFailedError(f"{host}: the probe failed on the host: {message}", host=host)
    try:
        text = decode_text(result.stdout).strip()
        if not text:
            raise BadOutputError(f"{host}: the probe wrote nothing to stdout", host=host)
        return load_json(text)
    except FactsError as exc:
        raise BadOutputError(
            f"{host}: the probe's output is not usable: {exc}", host=host
        ) from None


def _clean_stderr(raw: bytes) -> str:
    """PowerShell writes errors as CLIXML; keep the human part, one line, bounded."""
    text = raw.decode("utf-8", errors="replace")
    if text.startswith("#< CLIXML"):
        import re

        parts = re.findall(r'<S S="Error">(.*?)</S>', text, flags=re.S)
        text = "".join(parts).replace("_x000D__x000A_", " ")
    return " ".join(text.split())[:500]


class LiveCollector:
    """Implements the runner's ``Collector`` against real (or lab) hosts."""

    def __init__(
        self,
        winrm: WinrmClient,
        http: HttpProber,
        passwords: PasswordSource,
        *,
        servers: Sequence[ServerEndpoints] = (),
        cursors: CursorSource | None = None,
        settings: CollectSettings = CollectSettings(),
        executor: Executor | None = None,
    ) -> None:
        self._winrm = winrm
        self._http = http
        self._passwords = passwords
        self._servers = list(servers)
        self._cursors = cursors
        self._settings = settings
        # pywinrm blocks: each host holds a worker thread, so the pool must be as large as
        # the runner's concurrency (asyncio's default pool is cpu_count + 4)
        self._executor = executor

    async def collect(self, target: HostTarget, deadline: float) -> HostFacts:
        if target.role == "client":
            return await self._collect_client(target, deadline)
        # a server's bundle and pages, or a pattern host's role question and then its
        # probe: one log-on and one shell for all of them
        async with self._open_shell(target, deadline) as shell:
            role = target.role or await self._detect_role(target, shell, deadline)
            if role == "server":
                return await self._collect_server(target, shell, deadline)
            return await self._collect_client(target, deadline, shell)

    # ------------------------------------------------------------------ roles

    async def _run(self, target: HostTarget, script: str, deadline: float) -> Any:
        password = self._passwords(target)
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(
            self._executor,
            functools.partial(self._winrm.run, target, password, script, deadline=deadline),
        )
        return decode_probe_output(target.name, result)

    async def _in_shell(
        self, target: HostTarget, shell: ShellSession, script: str, deadline: float
    ) -> Any:
        result = await self._owning_thread(functools.partial(shell.run, script, deadline))
        return decode_probe_output(target.name, result)

    async def _owning_thread(self, call: Callable[[], T]) -> T:
        """``call`` on the pool. If this task is cancelled meanwhile (the runner's deadline),
        the call is left to finish before the cancellation goes on: its thread is using the
        shell, and the shell must not be closed under it from another thread (the call ends
        by the host's deadline itself)."""
        future = asyncio.get_running_loop().run_in_executor(self._executor, call)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            await asyncio.wait({future})
            raise

    @asynccontextmanager
    async def _open_shell(self, target: HostTarget, deadline: float) -> AsyncIterator[ShellSession]:
        """A logged-on shell for several scripts, closed on the pool. Cancelled while
        logging on (the runner's deadline), a log-on that went through anyway is closed too;
        cancelled while a script runs, it is closed only once that script's thread is done
        (``_owning_thread``)."""
        loop = asyncio.get_running_loop()
        opened = self._winrm.session(target, self._passwords(target), deadline=deadline)
        enter = loop.run_in_executor(self._executor, opened.__enter__)
        try:
            shell = await asyncio.shield(enter)
        except BaseException:
            await asyncio.wait({enter})
            if not enter.cancelled() and enter.exception() is None:
                await asyncio.wait({loop.run_in_executor(self._executor, self._exit, opened)})
            raise
        try:
            yield shell
        finally:
            await asyncio.wait({loop.run_in_executor(self._executor, self._exit, opened)})

    async def _detect_role(self, target: HostTarget, shell: ShellSession, deadline: float) -> str:
        """Pattern hosts without a role: ask the host whether WSUS is installed."""
        data = await self._in_shell(
            target, shell, compose.render("server_facts", {"timeout_ms": 1000}), deadline
        )
        doc = parse_document(data, SERVER_FACTS)
        assert isinstance(doc, ServerFacts)
        return "server" if doc.wsus and doc.wsus.installed else "client"

    async def _collect_server(
        self, target: HostTarget, shell: ShellSession, deadline: float
    ) -> ServerFacts:
        cursor = self._cursors(target) if self._cursors else None
        script = compose.render_bundle(
            {
                "server_facts": {"timeout_ms": self._settings.probe_timeout_ms},
                "iis_log": {
                    "log_dir": None,
                    "cursor": cursor.model_dump() if cursor else None,
                    "max_bytes": self._settings.iis_log_max_bytes,
                },
                "wsus_computers": self._page_params(0),
            }
        )
        urls = server_probe_urls(target.wsus_url, target.selfupdate_url)
        fetches = asyncio.ensure_future(self._http.fetch_all(urls))
        try:
            return await self._server_facts(target, shell, script, fetches, deadline)
        finally:
            fetches.cancel()

    @staticmethod
    def _exit(opened: AbstractContextManager[ShellSession]) -> None:
        opened.__exit__(None, None, None)

    async def _server_facts(
        self,
        target: HostTarget,
        shell: ShellSession,
        script: str,
        fetches: asyncio.Future[list[HttpResult]],
        deadline: float,
    ) -> ServerFacts:
        bundle = await self._in_shell(target, shell, script, deadline)
        http = await fetches  # on any failure above, the caller cancels it
        documents = _bundle_documents(target.name, bundle)
        server = documents.get("server_facts")
        if not isinstance(server, dict):
            raise BadOutputError(f"{target.name}: the bundle has no server_facts document")
        merged = dict(server)
        merged["http"] = [result.model_dump(mode="json") for result in http]
        for key, schema in (("iis_log", IIS_LOG), ("wsus_computers", WSUS_COMPUTERS)):
            document = documents.get(key)
            if isinstance(document, dict) and document.get("schema") == schema:
                merged[key] = document
        inventory = merged.pop("wsus_computers", None)
        del bundle, documents, document  # the raw first page lives on only in ``inventory``
        if inventory is not None:
            merged["wsus_computers"] = await self._whole_inventory(
                target, shell, inventory, deadline
            )
        return _parse(target.name, merged, SERVER_FACTS)  # type: ignore[return-value]

    async def _whole_inventory(
        self, target: HostTarget, shell: ShellSession, first: dict[str, Any], deadline: float
    ) -> dict[str, Any]:
        """The bundle's first inventory page plus every further page, one command each,
        as one complete ``wsusbot.wsus_computers/1`` document. Each page becomes lean
        records as it arrives (its JSON objects are dropped). A page that cannot be read
        leaves ``computers`` null with an error naming the page: an incomplete inventory
        is never handed on as if it were the whole one."""
        document = {k: v for k, v in first.items() if k not in ("computers", "next_offset")}
        pages = _InventoryPages(target.name, document)
        page: Any = first
        del first
        while True:
            failure = pages.add(page)
            page = None
            if failure is not None:
                return pages.failed(failure)
            if pages.next_offset is None:
                return pages.complete()
            script = compose.render("wsus_computers", self._page_params(pages.next_offset))
            try:
                page = await self._in_shell(target, shell, script, deadline)
            except CollectionError as exc:
                return pages.failed(f"the page at offset {pages.next_offset} was not read: {exc}")

    def _page_params(self, offset: int) -> dict[str, Any]:
        # rows: the compact page (a third of the bytes of one object per computer)
        return {"offset": offset, "page_size": self._settings.inventory_page_size, "format": "rows"}

    async def _collect_client(
        self, target: HostTarget, deadline: float, shell: ShellSession | None = None
    ) -> ClientFacts:
        script = compose.render(
            "client_facts",
            {
                "expected_wsus_url": target.wsus_url,
                "timeout_ms": self._settings.probe_timeout_ms,
            },
        )
        # the inventory server's URLs are known now; fetch them while the host works
        prefetch_urls = server_probe_urls(target.wsus_url, target.selfupdate_url)
        data, prefetched = await asyncio.gather(
            self._run(target, script, deadline)
            if shell is None
            else self._in_shell(target, shell, script, deadline),
            self._http.fetch_all(prefetch_urls),
        )
        if not isinstance(data, dict):
            raise BadOutputError(f"{target.name}: the probe's output is not a JSON object")
        facts = _parse(target.name, data, CLIENT_FACTS)
        assert isinstance(facts, ClientFacts)
        bot_http = await self._bot_view(facts, {r.url: r for r in prefetched if r.url})
        return facts.model_copy(update={"bot_http": bot_http})

    async def _bot_view(
        self, facts: ClientFacts, prefetched: Mapping[str, HttpResult]
    ) -> list[HttpResult]:
        """The bot's own request for each URL the client requested (docs/probes.md)."""
        wanted: list[tuple[str, str]] = []
        for entry in facts.http or []:
            if entry.url:
                wanted.append((entry.url, self._reachable_url(entry.url, facts)))
        missing = [fetch for _, fetch in wanted if fetch not in prefetched]
        fetched = {r.url: r for r in await self._http.fetch_all(sorted(set(missing)))}
        results: list[HttpResult] = []
        for nominal, fetch in wanted:
            got = prefetched.get(fetch) or fetched.get(fetch)
            if got is None:
                continue
            # fields set on an already validated result: no dump and re-validate per URL
            results.append(got.model_copy(update={"url": nominal, "fetched_url": fetch}))
        return results

    def _reachable_url(self, url: str, facts: ClientFacts) -> str:
        """Map a URL as the client names it to where the bot reaches the same resource.

        Clients name the self-update tree as ``http://<server>/...`` (port 80) and the
        WSUS site by their WUServer; the inventory may know better addresses for both
        (NAT, split DNS, the lab's loopback ports)."""
        host = _host_of(url)
        parts = urlsplit(url)
        for server in self._servers:
            if host not in server.names:
                continue
            wuserver = (facts.policy.WUServer if facts.policy else None) or ""
            if (
                server.wsus_url
                and wuserver
                and url.lower().startswith(wuserver.rstrip("/").lower() + "/")
            ):
                return server.wsus_url.rstrip("/") + url[len(wuserver.rstrip("/")) :]
            if parts.port in (None, 80) and parts.scheme == "http" and server.selfupdate_url:
                suffix = parts.path + (f"?{parts.query}" if parts.query else "")
                return server.selfupdate_url.rstrip("/") + suffix
        return url


class _InventoryPages:
    """Pages of one WSUS inventory, checked as they arrive (schema, order, the limit)."""

    def __init__(self, host: str, document: dict[str, Any]) -> None:
        self._host = host
        self._document = document
        self._computers: list[WsusComputer] = []
        self._total: int | None = None
        self.next_offset: int | None = None

    def add(self, page: Any) -> str | None:
        """Take one page; the reason the inventory cannot be completed, else None."""
        where = (
            "the first page"
            if self.next_offset is None
            else f"the page at offset {self.next_offset}"
        )
        if not isinstance(page, dict) or page.get("schema") != WSUS_COMPUTERS:
            return f"{where} is not a {WSUS_COMPUTERS} document"
        entries, rows = page.get("computers"), page.get("rows")
        if entries is None and rows is None:
            if self.next_offset is None:
                return ""  # the server could not list its computers: its errors say why
            return f"{where} holds no computers list: {_page_errors(page)}"
        offset, following, total = page.get("offset"), page.get("next_offset"), page.get("total")
        expected = self.next_offset or 0
        if offset is not None and offset != expected:
            return f"{where} starts at offset {offset!r}"
        try:
            if rows is not None:
                self._computers += read_computer_rows(page.get("columns"), page.get("tables"), rows)
            else:
                self._computers += read_computers(entries)
        except FactsError as exc:
            return f"{where}: {exc}"
        if isinstance(total, int) and not isinstance(total, bool):
            self._total = total
        if len(self._computers) > MAX_INVENTORY_COMPUTERS or (
            self._total is not None and self._total > MAX_INVENTORY_COMPUTERS
        ):
            count = max(len(self._computers), self._total or 0)
            return (
                f"inventory too large: the server lists {count:,} computers and wsusbot "
                f"reads at most {MAX_INVENTORY_COMPUTERS:,} (MAX_INVENTORY_COMPUTERS)"
            )
        if following is None:
            self.next_offset = None
            return None
        if isinstance(following, bool) or not isinstance(following, int) or following <= expected:
            return f"{where} names no later page (next_offset {following!r})"
        self.next_offset = following
        return None

    def complete(self) -> dict[str, Any]:
        return {
            **self._document,
            "computers": self._computers,
            "total": len(self._computers),
            "offset": 0,
            "next_offset": None,
        }

    def failed(self, reason: str) -> dict[str, Any]:
        errors = list(self._document.get("errors") or [])
        if reason:
            errors.append({"source": "wsus_computers.pages", "message": reason})
        return {**self._document, "computers": None, "errors": errors, "next_offset": None}


def _page_errors(page: dict[str, Any]) -> str:
    errors = page.get("errors")
    messages = [
        str(e.get("message"))[:200]
        for e in errors or []
        if isinstance(e, dict) and e.get("message")
    ]
    return "; ".join(messages) or "no error given"


def _bundle_documents(host: str, data: Any) -> dict[str, Any]:
    if not isinstance(data, dict) or data.get("schema") != BUNDLE:
        raise BadOutputError(f"{host}: expected a {BUNDLE} document from the bundle probe")
    documents = data.get("documents")
    if not isinstance(documents, dict):
        raise BadOutputError(f"{host}: the bundle's 'documents' is not an object")
    return documents


def _parse(host: str, data: dict[str, Any], schema: str) -> HostFacts:
    try:
        doc = parse_document(data, schema)
    except FactsError as exc:
        raise BadOutputError(f"{host}: {exc}", host=host) from None
    assert isinstance(doc, ClientFacts | ServerFacts)
    return doc
