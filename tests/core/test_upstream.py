"""The forwarder's relay: small answers sent whole, everything else streamed, bodiless answers kept
bodiless (HEAD, 204, 304 with their Content-Length as WordPress sent it)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.factories import make_config
from tests.proxy_harness import RunningSidecar, running_sidecar

SMALL = b'{"jsonrpc":"2.0","id":1,"result":{}}'


def make_upstream() -> web.Application:
    async def small(request: web.Request) -> web.Response:
        return web.Response(body=SMALL, content_type="application/json", headers={"X-Up": "1"})

    async def head(request: web.Request) -> web.Response:
        # what a HEAD answer looks like: the length of the body a GET would get, and no body
        return web.Response(status=200, headers={"Content-Length": "1234", "Content-Type": "text/html"})

    async def not_modified(request: web.Request) -> web.Response:
        return web.Response(status=304, headers={"ETag": '"v1"'})

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * (200 * 1024), content_type="application/octet-stream")

    app = web.Application()
    app.router.add_post("/small", small)
    app.router.add_route("HEAD", "/head", head)
    app.router.add_get("/not-modified", not_modified)
    app.router.add_get("/big", big)
    return app


@pytest.fixture
async def proxy() -> AsyncIterator[RunningSidecar]:
    server = TestServer(make_upstream(), host="127.0.0.1", port=0)
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    async with running_sidecar(make_config(base)) as running:
        yield running
    await server.close()


async def test_small_answer_arrives_whole_with_its_headers(proxy: RunningSidecar) -> None:
    async with proxy.http.post(proxy.url + "/small", data=b"{}") as response:
        assert response.status == 200
        assert await response.read() == SMALL
        assert response.headers["Content-Length"] == str(len(SMALL))
        assert response.headers["X-Up"] == "1"
        assert response.headers["Content-Type"] == "application/json"
        assert len(response.headers["X-Request-Id"]) == 32
    text = await proxy.metrics_text()
    assert 'mcp_sidecar_requests_total{route="passthrough",status="200"} 1.0' in text


async def test_head_keeps_the_length_wordpress_announced(proxy: RunningSidecar) -> None:
    async with proxy.http.head(proxy.url + "/head") as response:
        assert response.status == 200
        assert response.headers["Content-Length"] == "1234"
        assert await response.read() == b""


async def test_not_modified_stays_bodiless(proxy: RunningSidecar) -> None:
    async with proxy.http.get(proxy.url + "/not-modified") as response:
        assert response.status == 304
        assert response.headers["ETag"] == '"v1"'
        assert await response.read() == b""


async def test_large_answer_is_relayed_complete(proxy: RunningSidecar) -> None:
    async with proxy.http.get(proxy.url + "/big") as response:
        assert response.status == 200
        assert await response.read() == b"x" * (200 * 1024)
