"""The reverse-proxy core over real sockets: streaming, SSE, hop-by-hop, X-Forwarded-*, errors, metrics."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.factories import make_config
from tests.ports import refused_port
from tests.proxy_harness import RunningSidecar, running_sidecar

SSE_EVENTS = [
    b'id: 1\nretry: 1500\nevent: message\ndata: {"n": 1}\n\n',
    b": keep-alive comment\n\n",
    b"id: 2\ndata: line one\ndata: line two\n\n",
]


@dataclass
class UpstreamState:
    seen: list[dict[str, object]] = field(default_factory=list)
    release_sse: asyncio.Event = field(default_factory=asyncio.Event)
    sse_finished: bool = False
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    uploaded: int = 0


def make_upstream(state: UpstreamState) -> web.Application:
    async def echo(request: web.Request) -> web.Response:
        body = await request.read()
        state.seen.append({"headers": dict(request.headers), "path": request.path_qs})
        return web.json_response(
            {
                "method": request.method,
                "path": request.path_qs,
                "length": len(body),
                "headers": {k.lower(): v for k, v in request.headers.items()},
            },
            headers={"Connection": "close, X-Hop", "X-Hop": "secret", "Keep-Alive": "5", "X-Kept": "yes"},
        )

    async def upload(request: web.Request) -> web.Response:
        async for chunk in request.content.iter_any():
            state.uploaded += len(chunk)
        return web.json_response({"received": state.uploaded})

    async def big(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_type = "application/octet-stream"
        await response.prepare(request)
        block = b"x" * 65536
        for _ in range(int(request.query.get("blocks", "64"))):
            await response.write(block)
        await response.write_eof()
        return response

    async def sse(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(SSE_EVENTS[0])
        await asyncio.wait_for(state.release_sse.wait(), 10)  # the client must see event 1 before this
        for event in SSE_EVENTS[1:]:
            await response.write(event)
        state.sse_finished = True
        await response.write_eof()
        return response

    async def slow(request: web.Request) -> web.Response:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            state.cancelled.set()
            raise
        return web.Response(text="late")

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_route("*", "/echo{tail:.*}", echo)
    app.router.add_post("/upload", upload)
    app.router.add_get("/big", big)
    app.router.add_get("/sse", sse)
    app.router.add_get("/slow", slow)
    return app


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[TestServer, UpstreamState]]:
    state = UpstreamState()
    server = TestServer(make_upstream(state), host="127.0.0.1", port=0)
    await server.start_server()
    yield server, state
    await server.close()


def base(server: TestServer) -> str:
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
async def proxy(upstream: tuple[TestServer, UpstreamState]) -> AsyncIterator[RunningSidecar]:
    server, _ = upstream
    config = make_config(
        base(server),
        upstream={"url": base(server), "timeouts": {"connect": 1, "first_byte": 0.5, "idle": 1}},
        top={"limits": {"max_body_bytes": 1024 * 1024}},
    )
    async with running_sidecar(config) as running:
        yield running


async def test_get_passes_through_with_request_id(proxy: RunningSidecar) -> None:
    async with proxy.http.get(proxy.url + "/echo/a?b=1") as response:
        assert response.status == 200
        payload = await response.json()
        assert payload["path"] == "/echo/a?b=1"
        assert len(response.headers["X-Request-Id"]) == 32


def test_request_id_from_client_is_kept_only_when_well_formed() -> None:
    from proxy.pipeline.runner import _REQUEST_ID

    assert _REQUEST_ID.fullmatch("abc-123.def:ghi_")
    assert not _REQUEST_ID.fullmatch("has space")
    assert not _REQUEST_ID.fullmatch("x" * 129)


async def test_client_request_id_echoed_and_forwarded(proxy: RunningSidecar) -> None:
    async with proxy.http.get(proxy.url + "/echo", headers={"X-Request-Id": "trace-42"}) as response:
        payload = await response.json()
    assert response.headers["X-Request-Id"] == "trace-42"
    assert payload["headers"]["x-request-id"] == "trace-42"
    async with proxy.http.get(proxy.url + "/echo", headers={"X-Request-Id": "bad id\u00e9"}) as response:
        assert response.headers["X-Request-Id"] != "bad id"


async def test_hop_by_hop_headers_are_stripped_both_ways(proxy: RunningSidecar) -> None:
    headers = {
        "Connection": "keep-alive, X-Client-Hop",
        "X-Client-Hop": "1",
        "Keep-Alive": "timeout=5",
        "TE": "trailers",
        "Proxy-Authorization": "Basic Zm9vOmJhcg==",
        "X-End-To-End": "kept",
    }
    async with proxy.http.get(proxy.url + "/echo", headers=headers) as response:
        payload = await response.json()
        seen = set(payload["headers"])
        assert {"x-client-hop", "keep-alive", "te", "proxy-authorization"}.isdisjoint(seen)
        assert payload["headers"]["x-end-to-end"] == "kept"
        assert "X-Hop" not in response.headers
        assert "Keep-Alive" not in response.headers
        assert response.headers["X-Kept"] == "yes"


async def test_forwarded_headers_and_host_preserved(proxy: RunningSidecar) -> None:
    async with proxy.http.get(proxy.url + "/echo", headers={"X-Forwarded-For": "203.0.113.9"}) as response:
        sent = (await response.json())["headers"]
    host = proxy.url.removeprefix("http://")
    assert sent["host"] == host
    assert sent["x-forwarded-for"] == "203.0.113.9, 127.0.0.1"
    assert sent["x-forwarded-proto"] == "http"
    assert sent["x-forwarded-host"] == host
    assert sent["forwarded"] == f'for=127.0.0.1;proto=http;host="{host}"'


async def test_large_response_streams_without_buffering(proxy: RunningSidecar) -> None:
    async with proxy.http.get(proxy.url + "/big?blocks=128") as response:
        total = 0
        async for chunk in response.content.iter_any():
            total += len(chunk)
    assert total == 128 * 65536


async def test_large_request_body_streams_upstream(
    proxy: RunningSidecar, upstream: tuple[TestServer, UpstreamState]
) -> None:
    async def body() -> AsyncIterator[bytes]:
        for _ in range(15):
            yield b"y" * 65536

    async with proxy.http.post(proxy.url + "/upload", data=body()) as response:
        assert response.status == 200
        assert (await response.json())["received"] == 15 * 65536


async def test_sse_is_relayed_event_by_event_and_verbatim(
    proxy: RunningSidecar, upstream: tuple[TestServer, UpstreamState]
) -> None:
    _, state = upstream
    async with proxy.http.get(proxy.url + "/sse", headers={"Accept": "text/event-stream"}) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        assert response.headers["X-Accel-Buffering"] == "no"
        assert response.headers["Cache-Control"] == "no-cache"
        first = await asyncio.wait_for(response.content.readuntil(b"\n\n"), 5)
        assert first == SSE_EVENTS[0]
        assert not state.sse_finished  # the first event arrived while the upstream was still writing
        state.release_sse.set()
        rest = await response.content.read()
    assert rest == b"".join(SSE_EVENTS[1:])


async def test_upstream_down_is_502_json(upstream: tuple[TestServer, UpstreamState]) -> None:
    with refused_port() as dead:
        async with running_sidecar(make_config(f"http://127.0.0.1:{dead}")) as running:
            async with running.http.get(running.url + "/anything") as response:
                assert response.status == 502
                body = await response.json()
            assert 'mcp_sidecar_upstream_errors_total{kind="connect"} 1.0' in await running.metrics_text()
    assert body["error"]["code"] == "upstream_unavailable"
    assert body["error"]["request_id"] == response.headers["X-Request-Id"]


async def test_slow_upstream_is_504_json(proxy: RunningSidecar) -> None:
    started = time.monotonic()
    async with proxy.http.get(proxy.url + "/slow") as response:
        assert response.status == 504
        body = await response.json()
    assert body["error"]["code"] == "upstream_timeout"
    assert time.monotonic() - started < 3


async def test_declared_oversized_body_is_413(proxy: RunningSidecar) -> None:
    async with proxy.http.post(proxy.url + "/upload", data=b"z" * (1024 * 1024 + 1)) as response:
        assert response.status == 413
        assert (await response.json())["error"]["code"] == "body_too_large"


async def test_streamed_oversized_body_is_413(proxy: RunningSidecar) -> None:
    async def body() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b"z" * 65536

    async with proxy.http.post(proxy.url + "/upload", data=body()) as response:
        assert response.status == 413


async def test_client_disconnect_cancels_upstream(
    proxy: RunningSidecar, upstream: tuple[TestServer, UpstreamState]
) -> None:
    _, state = upstream
    config = proxy.sidecar.services.holder.current.config
    assert config.sites["demo"].upstream.timeouts.first_byte == 0.5
    _reader, writer = await asyncio.open_connection("127.0.0.1", proxy.public.port)
    writer.write(b"GET /slow HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    await writer.drain()
    await asyncio.sleep(0.2)
    writer.close()
    await asyncio.wait_for(state.cancelled.wait(), 3)


async def test_unknown_host_is_refused(proxy: RunningSidecar) -> None:
    async with proxy.http.get(proxy.url + "/echo", headers={"Host": "evil.example.com"}) as response:
        assert response.status == 421
        assert (await response.json())["error"]["code"] == "unknown_host"


async def test_metrics_after_traffic(proxy: RunningSidecar) -> None:
    async with proxy.http.get(proxy.url + "/echo"):
        pass
    text = await proxy.metrics_text()
    assert 'mcp_sidecar_requests_total{route="passthrough",status="200"} 1.0' in text
    assert "mcp_sidecar_request_duration_seconds_bucket" in text
    assert "mcp_sidecar_upstream_duration_seconds_bucket" in text
    assert "mcp_sidecar_in_flight_requests 0.0" in text


async def test_healthz_and_readyz(proxy: RunningSidecar) -> None:
    async with proxy.http.get(proxy.ops_url + "/healthz") as response:
        assert response.status == 200
    async with proxy.http.get(proxy.ops_url + "/readyz") as response:
        assert response.status == 200, await response.text()


async def test_readyz_fails_while_upstream_is_down() -> None:
    with refused_port() as dead:
        async with running_sidecar(make_config(f"http://127.0.0.1:{dead}")) as running:
            async with running.http.get(running.ops_url + "/readyz") as response:
                assert response.status == 503
                assert "upstream:demo" in json.loads(await response.text())["problems"]
            async with running.http.get(running.ops_url + "/healthz") as response:
                assert response.status == 200


async def test_access_log_line_has_no_query(
    proxy: RunningSidecar, capsys: pytest.CaptureFixture[str]
) -> None:
    from proxy.observe import configure_logging

    configure_logging(level="info", fmt="json")
    async with proxy.http.get(proxy.url + "/echo?token=supersecretvalue") as response:
        await response.read()
    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines() if '"event": "request"' in line]
    assert lines
    assert lines[-1]["path"] == "/echo"
    assert lines[-1]["status"] == 200
    assert "supersecretvalue" not in out


@pytest.mark.parametrize(("trusted", "expected_proto"), [([], "http"), (["127.0.0.1/32"], "https")])
async def test_forwarded_proto_from_a_trusted_proxy_is_kept(
    upstream: tuple[TestServer, UpstreamState], trusted: list[str], expected_proto: str
) -> None:
    server, _ = upstream
    config = make_config(base(server), top={"rate_limits": {"trusted_proxies": trusted}})
    async with running_sidecar(config) as running:
        headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "blog.example"}
        async with running.http.get(running.url + "/echo", headers=headers) as response:
            sent = (await response.json())["headers"]
    assert sent["x-forwarded-proto"] == expected_proto
    assert (sent["x-forwarded-host"] == "blog.example") is bool(trusted)
