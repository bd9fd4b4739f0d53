from __future__ import annotations

import asyncio

import httpx

from handlers.http import HttpProber, classify, server_probe_urls


def handler(request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path == "/iuident.cab":
        return httpx.Response(200, content=b"MSCF")
    if path == "/selfupdate/wuident.cab":
        return httpx.Response(302, headers={"Location": "http://elsewhere/"})
    if path == "/slow":
        raise httpx.ReadTimeout("slow", request=request)
    if path == "/refused":
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)
    return httpx.Response(404)


def test_statuses_redirects_not_followed_and_errors_classified() -> None:
    async def go() -> list[tuple[int | None, str | None]]:
        async with HttpProber(transport=httpx.MockTransport(handler)) as prober:
            results = await prober.fetch_all(
                [
                    "http://s/iuident.cab",
                    "http://s/selfupdate/wuident.cab",
                    "http://s/x",
                    "http://s/slow",
                    "http://s/refused",
                ]
            )
        return [(r.status, r.error) for r in results]

    assert asyncio.run(go()) == [
        (200, None),
        (302, None),
        (404, None),
        (None, "timeout"),
        (None, "refused"),
    ]


def test_classify_dns() -> None:
    request = httpx.Request("GET", "http://nowhere/")
    assert classify(httpx.ConnectError("Name or service not known", request=request)) == "dns"


def test_server_probe_urls() -> None:
    # WSUS on 8530: the port-80 tree (WSUS 2.0/3.x) and the WSUS-port copy (WSUS 2012+,
    # [MS-WUSP] 2.1 commonPort) are both asked for; the check picks by WSUS version
    assert server_probe_urls("http://w:8530/", "http://w") == [
        "http://w/selfupdate/wuident.cab",
        "http://w/iuident.cab",
        "http://w:8530/ClientWebService/client.asmx",
        "http://w:8530/selfupdate/wuident.cab",
    ]
    assert server_probe_urls(None, None) == []


def test_server_probe_urls_ask_once_when_wsus_is_on_the_port_80_site() -> None:
    assert server_probe_urls("http://W/", "http://w") == [
        "http://w/selfupdate/wuident.cab",
        "http://w/iuident.cab",
        "http://W/ClientWebService/client.asmx",
    ]


def test_server_probe_urls_without_a_selfupdate_url() -> None:
    assert server_probe_urls("https://w:8531", None) == [
        "https://w:8531/ClientWebService/client.asmx",
        "https://w:8531/selfupdate/wuident.cab",
    ]


def counting_transport(
    counts: dict[str, int], failures: dict[str, Exception]
) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        counts[request.url.path] = counts.get(request.url.path, 0) + 1
        failure = failures.get(request.url.path)
        if failure is not None:
            raise failure
        return httpx.Response(200)

    return httpx.MockTransport(answer)


def test_a_fleet_round_fetches_each_url_once_and_outside_it_never_reuses_a_result() -> None:
    counts: dict[str, int] = {}
    urls = ["http://s/iuident.cab", "http://s/selfupdate/wuident.cab"]

    async def go() -> tuple[list[int | None], list[int | None]]:
        async with HttpProber(transport=counting_transport(counts, {})) as prober:
            async with prober.fleet_round():
                # 50 hosts at once, each asking for the same two URLs
                batches = await asyncio.gather(*(prober.fetch_all(urls) for _ in range(50)))
            inside = [r.status for batch in batches for r in batch]
            after = []
            for _ in range(2):
                after += [r.status for r in await prober.fetch_all(urls)]
        return inside, after

    inside, after = asyncio.run(go())
    assert inside == [200] * 100
    assert after == [200] * 4
    # once each in the round, then once each per call outside it: a result that has
    # arrived is never handed to a later check
    assert counts == {"/iuident.cab": 3, "/selfupdate/wuident.cab": 3}


def test_outside_a_round_a_fetch_under_way_is_joined_unless_fresh() -> None:
    counts: dict[str, int] = {}
    gate = asyncio.Event()

    async def held(request: httpx.Request) -> httpx.Response:
        counts[request.url.path] = counts.get(request.url.path, 0) + 1
        await gate.wait()
        return httpx.Response(200)

    async def go() -> tuple[list[int | None], list[int | None]]:
        async with HttpProber(transport=httpx.MockTransport(held)) as prober:
            # 100 simultaneous single-host checks of one server's clients
            joined = [asyncio.ensure_future(prober.fetch("http://s/a")) for _ in range(100)]
            with prober.fresh():  # the re-check after a fix: its own request
                own = asyncio.ensure_future(prober.fetch("http://s/a"))
            await asyncio.sleep(0.01)
            gate.set()
            shared = [r.status for r in await asyncio.gather(*joined)]
            return shared, [(await own).status]

    shared, own = asyncio.run(go())
    assert shared == [200] * 100
    assert own == [200]
    assert counts == {"/a": 2}


def test_a_fleet_round_never_shares_a_transient_failure() -> None:
    counts: dict[str, int] = {}
    request = httpx.Request("GET", "http://s/")
    failures: dict[str, Exception] = {
        "/slow": httpx.ReadTimeout("slow", request=request),
        "/refused": httpx.ConnectError("[Errno 111] Connection refused", request=request),
    }

    async def go() -> list[str | None]:
        prober = HttpProber(transport=counting_transport(counts, failures))
        async with prober, prober.fleet_round():
            results = []
            for _ in range(3):
                results += await prober.fetch_all(["http://s/slow", "http://s/refused"])
        return [r.error for r in results]

    assert asyncio.run(go()) == ["timeout", "refused"] * 3
    # a timeout says nothing about the next host's moment: asked again each time; a
    # refusal is the server's answer: asked once
    assert counts == {"/slow": 3, "/refused": 1}


def test_a_cancelled_first_asker_does_not_cancel_the_others() -> None:
    counts: dict[str, int] = {}

    async def go() -> list[int | None]:
        gate = asyncio.Event()

        async def slow_then_ok(request: httpx.Request) -> httpx.Response:
            counts[request.url.path] = counts.get(request.url.path, 0) + 1
            if counts[request.url.path] == 1:
                await gate.wait()
            return httpx.Response(200)

        prober = HttpProber(transport=httpx.MockTransport(slow_then_ok))
        async with prober, prober.fleet_round():
            first = asyncio.ensure_future(prober.fetch("http://s/a"))
            await asyncio.sleep(0)
            second = asyncio.ensure_future(prober.fetch("http://s/a"))
            await asyncio.sleep(0.01)
            first.cancel()
            result = await second
            gate.set()
        return [result.status]

    assert asyncio.run(go()) == [200]
    assert counts == {"/a": 2}
