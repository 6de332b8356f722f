"""The sidecar's own WordPress lookups reach the site's real WordPress: a sub-directory install with its
own REST prefix, behind a web server that picks the site by Host (a multisite, name-based vhosts).

The front below serves exactly one site, `blog.test` at `/sub` with its REST API at `/api` (mapped onto
the demo's `/wp-json`); another path is a 404, another Host a 502 (no backend for it, as a load balancer
answers). So a lookup that forgets the path prefix, the REST prefix or the Host fails: a tool call is
refused with 503, the anonymous manifest lists nothing, /readyz says the site is down.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from proxy.config import Config
from proxy.demo import RunningDemo
from tests.demo_upstream import demo_fixture
from tests.e2e.authz_support import ALL_SCOPES, Agent
from tests.e2e.policy_support import site_data, sites_config
from tests.proxy_harness import RunningSidecar, running_sidecar

pytestmark = pytest.mark.asyncio(loop_scope="module")

demo = demo_fixture()
HOST, PREFIX, REST = "blog.test", "/sub", "/api"
MCP_PATH = REST + "/mcp/mcp-adapter-default-server"
USERS_ME = PREFIX + REST + "/wp/v2/users/me"


@dataclass
class VirtualHost:
    """A web server with one site: what it answered, by (Host, path)."""

    demo_url: str
    http: aiohttp.ClientSession
    seen: list[tuple[str, str, int]] = field(default_factory=list)

    async def relay(self, request: web.Request) -> web.StreamResponse:
        host, path = request.headers.get("Host", ""), request.path
        if host != HOST:
            self.seen.append((host, path, 502))
            return web.Response(status=502, text="no backend for this host")
        if path != PREFIX + REST and not path.startswith(PREFIX + REST + "/"):
            self.seen.append((host, path, 404))
            return web.Response(status=404, text="<html>not found</html>", content_type="text/html")
        target = self.demo_url + "/wp-json" + path[len(PREFIX + REST) :]
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        async with self.http.request(
            request.method, target, params=request.query, headers=headers, data=await request.read()
        ) as upstream:
            body = await upstream.read()
            kept = {k: v for k, v in upstream.headers.items() if k.lower() != "content-length"}
        self.seen.append((host, path, upstream.status))
        return web.Response(status=upstream.status, body=body, headers=kept)

    def answered(self, path: str) -> list[tuple[str, int]]:
        return [(host, status) for host, seen_path, status in self.seen if seen_path == path]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def vhost(demo: RunningDemo) -> AsyncIterator[tuple[VirtualHost, str]]:
    async with aiohttp.ClientSession(auto_decompress=False) as http:
        front = VirtualHost(demo.url, http)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", front.relay)
        server = TestServer(app, host="127.0.0.1", port=0)
        await server.start_server()
        yield front, str(server.make_url("")).rstrip("/")
        await server.close()


@pytest_asyncio.fixture(loop_scope="module")
async def sc(vhost: tuple[VirtualHost, str], demo: RunningDemo) -> AsyncIterator[RunningSidecar]:
    demo.site.reset()
    vhost[0].seen.clear()
    site = site_data(
        vhost[1],
        HOST,
        path_prefix=PREFIX,
        rest_prefix=REST,
        mcp_path=MCP_PATH,
        anonymous={"enabled": True, "wp_user": "subscriber"},
    )
    async with running_sidecar(Config.model_validate(sites_config({"blog": site}))) as running:
        yield running


async def test_a_tool_call_is_judged_by_the_sites_own_wordpress(
    sc: RunningSidecar, vhost: tuple[VirtualHost, str], demo: RunningDemo
) -> None:
    issued = await sc.sidecar.services.identity.keys.issue("blog", "editor", label="e2e", scopes=ALL_SCOPES)
    agent = Agent(sc.http, sc.url + PREFIX + MCP_PATH, {"X-API-Key": issued.raw, "Host": HOST})
    await agent.initialize()
    reply = await agent.execute("demo/create-post", {"title": "from the sub-site", "content": "x"})
    assert reply.status == 200, reply.body
    assert demo.site.ability_runs["demo/create-post"] == 1
    assert vhost[0].answered(USERS_ME) == [(HOST, 200)]  # one lookup, at the site, with its Host


async def test_the_anonymous_manifest_lists_what_the_sites_wordpress_allows(
    sc: RunningSidecar, vhost: tuple[VirtualHost, str]
) -> None:
    async with sc.http.get(sc.url + PREFIX + "/.well-known/mcp.json", headers={"Host": HOST}) as response:
        assert response.status == 200
        manifest = await response.json()
    # unresolved capabilities would advertise nothing: the subscriber may read, not write
    assert manifest["anonymous"]["abilities"] == ["demo/get-post"]
    assert vhost[0].answered(USERS_ME) == [(HOST, 200)]


async def test_readiness_asks_the_sites_own_wordpress(
    sc: RunningSidecar, vhost: tuple[VirtualHost, str]
) -> None:
    async with sc.http.get(sc.ops_url + "/readyz") as response:
        assert (response.status, await response.json()) == (200, {"status": "ready", "problems": {}})
    assert vhost[0].answered(PREFIX + REST + "/") == [(HOST, 200)]
