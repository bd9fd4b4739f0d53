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
