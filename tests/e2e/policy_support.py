"""Shared pieces of the policy-plane end-to-end tests: multi-site configs, an echo upstream that records
exactly what reached it, metric reading and polling for changes that arrive within seconds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.authz_support import SITE_USERS
from tests.factories import make_config_data


def site_data(upstream_url: str, *hosts: str, **extra: Any) -> dict[str, Any]:
    """One site's config section acting as the demo users."""
    return {"hosts": list(hosts), "upstream": {"url": upstream_url}, "users": SITE_USERS, **extra}


def sites_config(sites: Mapping[str, Mapping[str, Any]], **top: Any) -> dict[str, Any]:
    """A whole config (as data) with these sites, rate limits off unless `top` says otherwise."""
    data = make_config_data("http://127.0.0.1:9")
    data["sites"] = {name: dict(site) for name, site in sites.items()}
    data["rate_limits"] = {"enabled": False}
    data.update(top)
    return data


def metric(text: str, name: str, **labels: str) -> float:
    """One sample's value from Prometheus text (0.0 when absent)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


async def eventually(check: Callable[[], Awaitable[bool]], *, within: float = 5.0) -> float:
    """Poll `check` until it holds; the seconds it took. Fails the test after `within` seconds."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > within:
            raise AssertionError(f"the condition did not hold within {within} s")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


@dataclass(frozen=True)
class Seen:
    method: str
    target: str  # the raw request target, exactly as it arrived
    headers: dict[str, str]
    body: bytes


@dataclass
class EchoUpstream:
    """Answers 200 to everything (the REST index lists `namespaces`) and records what arrived; a request
    to `/slow` waits for `release` (an in-flight request)."""

    namespaces: list[str] = field(default_factory=lambda: ["wp/v2", "mcp"])
    seen: list[Seen] = field(default_factory=list)
    slow_started: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""

    def targets(self) -> list[str]:
        return [seen.target for seen in self.seen]

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {name.lower(): value for name, value in request.headers.items()}
        self.seen.append(Seen(request.method, request.raw_path, headers, body))
        if request.query.get("_fields") == "namespaces":  # the REST index, wherever the site has it
            return web.json_response({"namespaces": self.namespaces})
        if request.path == "/slow":
            self.slow_started.set()
            await asyncio.wait_for(self.release.wait(), 10)
            return web.Response(text="slow and fine")
        return web.json_response({"method": request.method, "target": request.raw_path})


@asynccontextmanager
async def echo_upstream() -> AsyncIterator[EchoUpstream]:
    upstream = EchoUpstream()
    server = TestServer(upstream.app(), host="127.0.0.1", port=0)
    await server.start_server()
    upstream.url = str(server.make_url("")).rstrip("/")
    try:
        yield upstream
    finally:
        await server.close()


async def raw_request(
    url: str, request_line: str, headers: Mapping[str, str], *, body: bytes = b""
) -> tuple[int, bytes]:
    """Send one request byte for byte (what no HTTP client would send as is); (status, body)."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        lines = [request_line, *(f"{name}: {value}" for name, value in headers.items()), "Connection: close"]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, answer = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), answer


async def status_of(response: aiohttp.ClientResponse) -> tuple[int, bytes]:
    return response.status, await response.read()
