"""Bot-side HTTP probes (httpx, async): can the bot fetch the self-update files?

No redirect is followed silently (a redirect is recorded as its 3xx status), TLS is
verified by default, and every outcome becomes an :class:`~checks.facts.HttpResult`: a
status, or an ``error`` word (``refused``, ``timeout``, ``dns``, ``tls``, ...).
"""

from __future__ import annotations

import asyncio
import contextvars
import ssl
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager

import httpx

from checks.facts import HttpResult

USER_AGENT = "wsusbot-probe/1"

#: errors that say something about this one moment, not about the URL: never shared
#: with the other hosts of a fleet round (each asks again)
TRANSIENT_ERRORS = frozenset({"timeout", "reset", "protocol"})

_Round = dict[str, "asyncio.Future[HttpResult]"]


def classify(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        text = str(exc).lower()
        cause = exc.__cause__
        if isinstance(cause, ssl.SSLError) or "certificate" in text or "ssl" in text:
            return "tls"
        if "name or service" in text or "nodename" in text or "getaddrinfo" in text:
            return "dns"
        return "refused"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "protocol"
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return "reset"
    return type(exc).__name__


class HttpProber:
    """One shared client for a run; the transport is injectable for tests."""

    def __init__(
        self,
        *,
        timeout_s: float = 10.0,
        verify: bool | str = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s),
            follow_redirects=False,
            verify=verify,
            transport=transport,
            headers={"User-Agent": USER_AGENT},
            trust_env=False,
        )
        self._round: contextvars.ContextVar[_Round | None] = contextvars.ContextVar(
            "wsusbot_http_round", default=None
        )
        #: fetches under way outside any round, joined by an identical fetch that starts
        #: before they end (never reused once ended)
        self._in_flight: _Round = {}
        self._fresh: contextvars.ContextVar[bool] = contextvars.ContextVar(
            "wsusbot_http_fresh", default=False
        )

    async def __aenter__(self) -> HttpProber:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    @asynccontextmanager
    async def fleet_round(self) -> AsyncIterator[None]:
        """Within this block (and the tasks started in it) each URL is fetched once.

        Why: in a fleet check every client of a server names the same few self-update
        URLs, and the bot's own view of them is a fact about the server, not about the
        client; 1,000 clients asked for ~5,000 identical requests. A round is one
        ``check_many`` (minutes at most): single-host checks, and the re-check after a
        fix, always fetch afresh. Transient failures are not shared (TRANSIENT_ERRORS).
        """
        token = self._round.set({})
        try:
            yield
        finally:
            self._round.reset(token)

    @contextmanager
    def fresh(self) -> Iterator[None]:
        """Within this block every fetch is this block's own: no in-flight fetch is joined.

        Why: the re-check after a fix judges what the fix changed, and a fetch another
        host's check started before the fix ended could predate the change."""
        token = self._fresh.set(True)
        try:
            yield
        finally:
            self._fresh.reset(token)

    async def fetch(self, url: str) -> HttpResult:
        """The bot's request for ``url``. In a fleet round each URL is fetched once; outside
        one, a check joins an identical fetch that is still under way (100 simultaneous
        Slack checks of one server's clients asked for the same few URLs 100 times, a
        quarter of the bot's CPU) but never takes a result that has already arrived."""
        if self._fresh.get():
            return await self._fetch(url)
        shared = self._round.get()
        if shared is None:
            return await self._shared(self._in_flight, url, keep=False)
        return await self._shared(shared, url, keep=True)

    async def _shared(self, shared: _Round, url: str, *, keep: bool) -> HttpResult:
        pending = shared.get(url)
        if pending is not None:
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not pending.cancelled() or (task is not None and task.cancelling()):
                    raise  # this task itself is being cancelled
            # the host that asked first was cancelled (its deadline): the next asker
            # fetches, and the others join it again
            return await self._shared(shared, url, keep=keep)
        future: asyncio.Future[HttpResult] = asyncio.get_running_loop().create_future()
        shared[url] = future
        try:
            result = await self._fetch(url)
        except BaseException:
            shared.pop(url, None)
            future.cancel()
            raise
        if not keep or result.error in TRANSIENT_ERRORS:
            shared.pop(url, None)
        future.set_result(result)
        return result

    async def _fetch(self, url: str) -> HttpResult:
        started = time.perf_counter()
        try:
            # GET with a streamed body: only the status matters, never read a big cab
            async with self._client.stream("GET", url) as response:
                status = response.status_code
        except httpx.InvalidURL:
            return HttpResult(url=url, status=None, error="invalid_url", elapsed_ms=0.0)
        except httpx.HTTPError as exc:
            return HttpResult(
                url=url,
                status=None,
                error=classify(exc),
                elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
            )
        return HttpResult(
            url=url,
            status=status,
            error=None,
            elapsed_ms=round((time.perf_counter() - started) * 1000, 1),
        )

    async def fetch_all(self, urls: Sequence[str]) -> list[HttpResult]:
        return list(await asyncio.gather(*(self.fetch(url) for url in urls)))


def server_probe_urls(wsus_url: str | None, selfupdate_url: str | None) -> list[str]:
    """The bot-side probes docs/catalogue.md names for a server (docs/probes.md).

    Which of them a server must answer depends on its WSUS version, which is not known
    until its facts arrive (they are collected at the same time), so the bot asks for all
    of them and ``server.selfupdate_http`` judges the ones that version serves:

    - ``<selfupdate_url>/selfupdate/wuident.cab`` and ``<selfupdate_url>/iuident.cab``: the
      port-80 self-update tree of WSUS 2.0 / 3.x (Cc708554 §4 and §7; dd939801 tests
      http://<server>/selfupdate/wuident.cab);
    - ``<wsus_url>/ClientWebService/client.asmx``;
    - ``<wsus_url>/selfupdate/wuident.cab`` when the WSUS site is not the port-80 URL: the
      self-update directory on the WSUS port ([MS-WUSP] 2.1 commonPort,
      https://msdn.microsoft.com/en-us/library/cc251951.aspx), the only copy the WSUS role of
      Windows Server 2012+ is required to serve (catalogue D8).
    """
    urls: list[str] = []
    base = selfupdate_url.rstrip("/") if selfupdate_url else None
    if base:
        urls += [f"{base}/selfupdate/wuident.cab", f"{base}/iuident.cab"]
    if wsus_url:
        wsus = wsus_url.rstrip("/")
        urls.append(f"{wsus}/ClientWebService/client.asmx")
        if base is None or wsus.lower() != base.lower():
            urls.append(f"{wsus}/selfupdate/wuident.cab")
    return urls
