"""Many sites behind one sidecar: picked by Host (and path prefix), credentials valid only on their own
site, an unknown host refused with a clear error and never routed to a default site."""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import AsyncIterator
from urllib.parse import unquote

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestServer

from proxy.config import Config
from proxy.demo import DEMO_MCP_PATH, RunningDemo, start_demo_upstream
from tests.demo.wp_client import basic
from tests.e2e.authz_support import ALL_SCOPES, INITIALIZE, JSON_HEADERS, Agent
from tests.e2e.policy_support import eventually, site_data, sites_config
from tests.proxy_harness import RunningSidecar, running_sidecar

pytestmark = pytest.mark.asyncio(loop_scope="module")

ALPHA, BETA = "alpha.test", "beta.test"
RUN = "/wp-json/wp-abilities/v1/abilities/demo/create-post/run"


async def _demo() -> AsyncIterator[RunningDemo]:
    running = await start_demo_upstream()
    yield running
    await running.close()


demo_a = pytest_asyncio.fixture(_demo, loop_scope="module", scope="module", name="demo_a")
demo_b = pytest_asyncio.fixture(_demo, loop_scope="module", scope="module", name="demo_b")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def blog_front(demo_b: RunningDemo) -> AsyncIterator[str]:
    """A WordPress installed in /blog: what arrives as /blog/... is the demo's /..., mapped as a web server
    maps it (decoded, dot segments resolved, doubled slashes merged, the install path in any case). Nothing
    else is there: the sidecar's own lookups (capabilities, REST index) must go to /blog too."""
    async with aiohttp.ClientSession(auto_decompress=False) as http:

        async def relay(request: web.Request) -> web.StreamResponse:
            path = posixpath.normpath(re.sub("/+", "/", unquote(request.raw_path)))
            if not path.lower().startswith("/blog/"):
                return web.json_response({"code": "not_the_blog"}, status=404)
            path = path[len("/blog") :]
            headers = {
                k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")
            }
            async with http.request(
                request.method, demo_b.url + path, headers=headers, data=await request.read()
            ) as upstream:
                body = await upstream.read()
                kept = {k: v for k, v in upstream.headers.items() if k.lower() not in ("content-length",)}
                return web.Response(status=upstream.status, body=body, headers=kept)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", relay)
        server = TestServer(app, host="127.0.0.1", port=0)
        await server.start_server()
        yield str(server.make_url("")).rstrip("/")
        await server.close()


@pytest_asyncio.fixture(loop_scope="module")
async def sc(demo_a: RunningDemo, demo_b: RunningDemo, blog_front: str) -> AsyncIterator[RunningSidecar]:
    demo_a.site.reset()
    demo_b.site.reset()
    config = Config.model_validate(
        sites_config(
            {
                "alpha": site_data(demo_a.url, ALPHA, "www.alpha.test"),
                "beta": site_data(demo_b.url, BETA),
                "blog": site_data(blog_front, ALPHA, path_prefix="/blog"),
            }
        )
    )
    async with running_sidecar(config) as running:
        yield running


async def key(sc: RunningSidecar, site: str, user: str = "editor") -> str:
    issued = await sc.sidecar.services.identity.keys.issue(site, user, label="e2e", scopes=ALL_SCOPES)
    return issued.raw


def agent(sc: RunningSidecar, host: str, credential: dict[str, str], *, prefix: str = "") -> Agent:
    return Agent(sc.http, sc.url + prefix + DEMO_MCP_PATH, {**credential, "Host": host})


async def test_each_site_reaches_only_its_own_wordpress(
    sc: RunningSidecar, demo_a: RunningDemo, demo_b: RunningDemo
) -> None:
    alpha = agent(sc, ALPHA, {"X-API-Key": await key(sc, "alpha")})
    await alpha.initialize()
    reply = await alpha.execute("demo/create-post", {"title": "on alpha", "content": "x"})
    assert reply.status == 200, reply.body
    assert demo_a.site.ability_runs["demo/create-post"] == 1
    assert demo_b.site.calls == {}
    beta = agent(sc, BETA, {"X-API-Key": await key(sc, "beta")})
    await beta.initialize()
    assert demo_b.site.calls["initialize"] == 1
    assert demo_a.site.calls["initialize"] == 1

    async def recorded() -> bool:
        return len(await sc.sidecar.services.store.list_audit("alpha")) == 1

    await eventually(recorded)
    (record,) = await sc.sidecar.services.store.list_audit("alpha")
    assert (record.site, record.ability, record.decision) == ("alpha", "demo/create-post", "allowed")
    assert await sc.sidecar.services.store.list_audit("beta") == []


@pytest.mark.parametrize(("issued_for", "used_on"), [("alpha", BETA), ("beta", ALPHA), ("alpha", "blog")])
async def test_a_key_of_one_site_is_invalid_on_another(
    sc: RunningSidecar, demo_a: RunningDemo, demo_b: RunningDemo, issued_for: str, used_on: str
) -> None:
    prefix = "/blog" if used_on == "blog" else ""
    host = ALPHA if used_on == "blog" else used_on
    reply = await agent(sc, host, {"X-API-Key": await key(sc, issued_for)}, prefix=prefix).call(
        "initialize", INITIALIZE
    )
    assert reply.status == 401
    assert reply.code == "invalid_token"
    assert demo_a.site.calls == {}
    assert demo_b.site.calls == {}


async def test_a_token_of_one_site_is_invalid_on_another(sc: RunningSidecar, demo_b: RunningDemo) -> None:
    clients = sc.sidecar.services.identity.clients
    record, secret = await clients.add("alpha", "bot", "editor", ALL_SCOPES)
    assert secret is not None
    form = {"grant_type": "client_credentials", "client_id": record.client_id, "client_secret": secret}
    async with sc.http.post(sc.url + "/oauth/token", data=form, headers={"Host": ALPHA}) as response:
        assert response.status == 200, await response.text()
        token = (await response.json())["access_token"]
    async with sc.http.post(sc.url + "/oauth/token", data=form, headers={"Host": BETA}) as response:
        assert response.status in (400, 401)  # beta's token endpoint does not know alpha's client
    alpha = agent(sc, ALPHA, {"Authorization": f"Bearer {token}"})
    await alpha.initialize()
    reply = await agent(sc, BETA, {"Authorization": f"Bearer {token}"}).call("initialize", INITIALIZE)
    assert (reply.status, reply.code) == (401, "invalid_token")
    assert demo_b.site.calls == {}


@pytest.mark.parametrize(
    ("host", "path"),
    [
        ("evil.example", DEMO_MCP_PATH),
        ("evil.example", "/"),
        ("evil.example", "/.well-known/mcp.json"),
        ("alpha.test.evil.example", "/"),
        ("", "/"),
    ],
)
async def test_an_unknown_host_is_421_and_reaches_no_site(
    sc: RunningSidecar, demo_a: RunningDemo, demo_b: RunningDemo, host: str, path: str
) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INITIALIZE})
    async with sc.http.post(sc.url + path, data=body, headers={**JSON_HEADERS, "Host": host}) as response:
        assert response.status == 421
        error = (await response.json())["error"]
    assert error["code"] == "unknown_host"
    assert "Host" in error["message"]
    assert demo_a.site.requests == []
    assert demo_b.site.requests == []
    assert 'code="unknown_host"' not in await sc.metrics_text()  # no site, so no per-site denial


@pytest.mark.parametrize("host", ["ALPHA.test", "alpha.test:8443", "alpha.test.", "www.alpha.test"])
async def test_host_names_match_without_case_port_or_final_dot(
    sc: RunningSidecar, demo_a: RunningDemo, host: str
) -> None:
    async with sc.http.get(sc.url + "/", headers={"Host": host}) as response:
        assert response.status == 200
    assert [request.path for request in demo_a.site.requests] == ["/"]


@pytest.mark.parametrize("prefix", ["/blog", "/BLOG", "/%62log", "//blog", "/x/../blog"])
async def test_a_sub_directory_site_is_picked_by_its_path_prefix(
    sc: RunningSidecar, demo_a: RunningDemo, demo_b: RunningDemo, prefix: str
) -> None:
    blog = await key(sc, "blog")
    url = sc.url + prefix + DEMO_MCP_PATH
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INITIALIZE})
    headers = {**JSON_HEADERS, "Host": ALPHA, "X-API-Key": blog}
    async with sc.http.post(url, data=body, headers=headers) as response:
        assert response.status == 200, await response.text()
    assert demo_b.site.calls["initialize"] == 1
    assert demo_a.site.calls == {}


async def test_the_prefix_matches_whole_segments_only(
    sc: RunningSidecar, demo_a: RunningDemo, demo_b: RunningDemo
) -> None:
    async with sc.http.get(sc.url + "/blogroll/", headers={"Host": ALPHA}) as response:
        assert response.content_type == "text/html"  # the root site's WordPress answered (its 404 page)
    assert [request.path for request in demo_a.site.requests] == ["/blogroll/"]
    assert demo_b.site.requests == []


async def test_each_site_guards_its_own_routes(sc: RunningSidecar, demo_b: RunningDemo) -> None:
    editor = {"Authorization": basic("editor"), "Content-Type": "application/json", "Host": ALPHA}
    for prefix in ("/blog", "/BLOG"):
        body = b'{"input": {"title": "t", "content": "c"}}'
        async with sc.http.post(sc.url + prefix + RUN, data=body, headers=editor) as response:
            assert (response.status, await response.read()) == (404, b"")
    assert demo_b.site.ability_runs == {}
    assert demo_b.site.requests == []
