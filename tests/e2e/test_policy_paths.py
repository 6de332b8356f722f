"""Every spelling of the Abilities REST route, through the sidecar, against the demo WordPress.

Each request carries the editor's Application Password, so a spelling the sidecar let through would
really run the ability (the demo counts runs). Where the demo itself routes a spelling, a control request
straight to the demo proves the trick is live.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
import pytest_asyncio
from yarl import URL

from proxy.config import Config
from proxy.demo import DEMO_MCP_PATH, RunningDemo
from tests.demo.wp_client import basic
from tests.demo_upstream import demo_fixture
from tests.e2e.authz_support import ALL_SCOPES, INITIALIZE, JSON_HEADERS, Agent
from tests.e2e.policy_support import metric, raw_request, site_data, sites_config
from tests.proxy_harness import RunningSidecar, running_sidecar

pytestmark = pytest.mark.asyncio(loop_scope="module")

demo = demo_fixture()

RUN = "/wp-abilities/v1/abilities/demo/create-post/run"
INPUT = b'{"input": {"title": "smuggled", "content": "x"}}'


@dataclass(frozen=True)
class Trick:
    """One request: `target` is sent byte for byte; `live` when the demo itself runs the ability for it."""

    target: str
    status: int = 404
    live: bool = False
    body: bytes = INPUT
    content_type: str = "application/json"
    label: str = ""

    @property
    def id(self) -> str:
        return self.label or self.target


def multipart(name: str, value: str = RUN, *, boundary: str = "B0und") -> bytes:
    return (
        f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nhello\r\n'
        f"--{boundary}\r\nContent-Disposition: form-data; name={name}\r\n\r\n{value}\r\n--{boundary}--\r\n"
    ).encode()


def multipart_trick(
    name: str, content_type: str = "multipart/form-data; boundary=B0und", **extra: object
) -> Trick:
    label = f"{content_type}: name={name}"
    return Trick("/", body=multipart(name), content_type=content_type, label=label, **extra)  # type: ignore[arg-type]


def form_trick(body: str, content_type: str = "application/x-www-form-urlencoded", **extra: object) -> Trick:
    label = f"{content_type}: {body}"
    return Trick("/", body=body.encode(), content_type=content_type, label=label, **extra)  # type: ignore[arg-type]


TRICKS = [
    Trick("/wp-json" + RUN, live=True),
    Trick("/?rest_route=" + RUN, live=True),
    Trick("/index.php?rest_route=" + RUN, live=True),
    Trick("/wp-json/wp%2Dabilities/v1/abilities/demo/create-post/run", live=True),
    Trick("/wp-json/wp-abilities/v1/abilities/demo%2Fcreate-post/run", live=True),
    Trick("/wp-json/wp-abilities%2Fv1%2Fabilities%2Fdemo%2Fcreate-post%2Frun", live=True),
    Trick("/wp-json/%77%70-abilities/v1/abilities/demo/create-post/run", live=True),
    Trick("/wp-json/WP-Abilities/V1/abilities/demo/create-post/run", live=True),
    Trick("/wp-json" + RUN + "/", live=True),
    Trick("/?rest_route=%2Fwp-abilities%2Fv1%2Fabilities%2Fdemo%2Fcreate-post%2Frun", live=True),
    Trick("/?rest_route=/WP-ABILITIES/v1/abilities/demo/create-post/run", live=True),
    Trick("/?rest%5Froute=" + RUN, live=True),
    Trick("/?rest_route=" + RUN + "/", live=True),
    Trick("/?rest.route=" + RUN),  # PHP reads rest.route, rest route, rest[route as rest_route
    Trick("/?rest+route=" + RUN),
    Trick("/?rest[route=" + RUN),
    Trick("/?%20rest_route=" + RUN),
    Trick("/?x=1&rest_route=" + RUN),
    Trick("/hello-world/?rest_route=" + RUN),
    Trick("/WP-JSON" + RUN),
    Trick("/index.php/wp-json" + RUN),
    Trick("/wp-json//wp-abilities/v1/abilities/demo/create-post/run"),
    Trick("//wp-json/wp-abilities//v1/abilities/demo/create-post//run"),
    Trick("/sub-site/wp-json" + RUN),  # a sub-directory multisite's sub-site
    Trick("/wp-json/wp-abilities%252Fv1/abilities/demo/create-post/run", status=400),
    Trick("/?rest_route=%252Fwp-abilities" + RUN, status=400),
    Trick("/wp-json/mcp/../wp-abilities/v1/abilities/demo/create-post/run", status=400),
    Trick("/wp-json/mcp/%2E%2E/wp-abilities/v1/abilities/demo/create-post/run", status=400),
    Trick("/wp-json/./wp-abilities/v1/abilities/demo/create-post/run", status=400),
    Trick("/page/../wp-json" + RUN, status=400),
    Trick("/?rest_route=/mcp/../wp-abilities/v1/abilities/demo/create-post/run", status=400),
    Trick("/?rest_route=/x&rest_route=" + RUN, status=400),  # duplicates that disagree
    Trick("/?rest_route[]=" + RUN, status=400),
    Trick("/wp-json/wp-abilities%5Cv1" + RUN, status=400),  # a backslash
    Trick("/wp-json/wp-abilities%00/v1" + RUN, status=400),
    form_trick("rest_route=" + RUN),
    form_trick("a=1&rest.route=" + RUN),
    form_trick("rest+route=" + RUN, "application/x-www-form-urlencoded; charset=UTF-8"),
    form_trick("rest%5Broute=%2Fwp-abilities%2Fv1%2Fabilities%2Fdemo%2Fcreate-post%2Frun"),
    form_trick("rest_route=" + RUN, "application/x-www-form-urlencoded,text/plain"),  # PHP cuts at ','
    form_trick("rest_route=" + RUN, "Application/X-WWW-Form-Urlencoded charset=x"),  # and at ' '
    Trick(
        "/?rest_route=" + RUN,
        body=b"rest_route=/x",
        content_type="application/x-www-form-urlencoded",
        status=400,
        label="a form field and the query disagree",
    ),
    multipart_trick('"rest_route"'),
    multipart_trick('"rest.route"'),
    multipart_trick('"rest route"'),
    multipart_trick('"rest[route"'),
    multipart_trick('" rest_route"'),
    multipart_trick("'rest_route'"),  # single quotes: PHP strips them, RFC parsers keep them
    multipart_trick("rest_route"),
    multipart_trick('"x"; name="rest_route"'),  # the last name wins
    multipart_trick('"rest_route"', "multipart/form-data; xboundary=B0und; boundary=other"),  # PHP: first
    multipart_trick('"rest_route"', "multipart/form-data,x; boundary=B0und"),
    multipart_trick('"rest_route"', "multipart/form-data; boundary=", status=400),
]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def sc(demo: RunningDemo) -> AsyncIterator[RunningSidecar]:
    config = Config.model_validate(sites_config({"demo": site_data(demo.url, "localhost", "127.0.0.1")}))
    async with running_sidecar(config) as running:
        yield running


@pytest.fixture(autouse=True)
def fresh(demo: RunningDemo) -> None:
    demo.site.reset()


async def send(http: aiohttp.ClientSession, base: str, trick: Trick) -> tuple[int, bytes]:
    headers = {"Content-Type": trick.content_type, "Authorization": basic("editor")}
    url = URL(base + trick.target, encoded=True)  # byte for byte: no client-side normalising
    async with http.post(url, data=trick.body, headers=headers) as response:
        return response.status, await response.read()


@pytest.mark.parametrize("trick", TRICKS, ids=lambda trick: trick.id)
async def test_every_spelling_is_refused_and_the_ability_never_runs(
    sc: RunningSidecar, demo: RunningDemo, trick: Trick
) -> None:
    if trick.live:  # the control: the demo really runs the ability for this spelling
        status, body = await send(sc.http, demo.url, trick)
        assert status == 200, body
        assert demo.site.ability_runs["demo/create-post"] == 1
        demo.site.reset()
    status, body = await send(sc.http, sc.url, trick)
    assert status == trick.status, body
    if status == 404:
        assert body == b""  # hidden: nothing says the route exists
    else:
        assert json.loads(body)["error"]["code"] == "invalid_path"
    assert demo.site.ability_runs == {}
    assert all("abilities" not in request.path for request in demo.site.requests)


async def test_a_fragment_is_refused(sc: RunningSidecar, demo: RunningDemo) -> None:
    headers = {"Host": "localhost", "Authorization": basic("editor"), "Content-Length": "0"}
    status, body = await raw_request(sc.url, f"POST /wp-json{RUN}#x HTTP/1.1", headers)
    assert status == 400
    assert json.loads(body)["error"]["code"] == "invalid_path"
    status, _ = await raw_request(sc.url, "GET /?rest_route=/x#y HTTP/1.1", {"Host": "localhost"})
    assert status == 400
    assert demo.site.requests == []


async def test_a_boundary_inside_a_line_is_refused(sc: RunningSidecar, demo: RunningDemo) -> None:
    trick = Trick(
        "/", body=b"x" + multipart('"rest_route"'), content_type="multipart/form-data; boundary=B0und"
    )
    status, body = await send(sc.http, sc.url, trick)
    assert (status, json.loads(body)["error"]["code"]) == (400, "invalid_path")
    assert demo.site.requests == []


async def test_two_content_types_on_a_post_are_refused(sc: RunningSidecar, demo: RunningDemo) -> None:
    """PHP would read one of them; which one depends on the web server. aiohttp's parser refuses."""
    body = multipart('"rest_route"')
    headers = {"Host": "localhost", "Content-Type": "application/json", "Content-Length": str(len(body))}
    request = "POST / HTTP/1.1\r\nContent-Type: multipart/form-data; boundary=B0und"  # a second one
    status, _ = await raw_request(sc.url, request, headers, body=body)
    assert status == 400
    assert demo.site.requests == []


async def test_an_absolute_form_target_is_judged_by_its_path(sc: RunningSidecar, demo: RunningDemo) -> None:
    headers = {"Host": "localhost", "Authorization": basic("editor"), "Content-Length": "0"}
    status, body = await raw_request(sc.url, f"POST http://elsewhere.example/wp-json{RUN} HTTP/1.1", headers)
    assert (status, body) == (404, b"")
    assert demo.site.requests == []


async def test_what_is_judged_is_what_is_forwarded(sc: RunningSidecar, demo: RunningDemo) -> None:
    target = "/wp-json/wp/v2/posts?_fields=id&x=%2e%2e%2F&y=%41"
    async with sc.http.get(URL(sc.url + target, encoded=True)) as response:
        assert response.status == 200
    (seen,) = demo.site.requests
    assert f"{seen.path}?{seen.query}" == "/wp-json/wp/v2/posts?_fields=id&x=%2e%2e%2F&y=%41"


async def test_a_verdict_cached_for_a_target_never_covers_a_form_naming_a_route(
    sc: RunningSidecar, demo: RunningDemo
) -> None:
    """classify caches verdicts by target; a form body can still name the route, so forms are judged
    every time: the same target that just passed through must not let a form smuggle the route in."""
    plain = Trick("/", body=b'{"a": 1}', label="json to /")
    smuggled = form_trick("rest_route=" + RUN)
    for _ in range(2):
        demo.site.reset()
        await send(sc.http, sc.url, plain)
        assert [request.path for request in demo.site.requests] == ["/"]  # passed through
        assert await send(sc.http, sc.url, smuggled) == (404, b"")
        assert demo.site.ability_runs == {}


async def test_verdicts_are_cached_per_target_and_long_targets_are_not(sc: RunningSidecar) -> None:
    (site,) = sc.sidecar.services.holder.current.sites
    cache = site.route_cache
    short = "/wp-json/wp/v2/posts?cache=" + "s" * 16
    long = "/wp-json/wp/v2/posts?cache=" + "l" * 600
    for target in (short, short, short, long, long):
        async with sc.http.get(URL(sc.url + target, encoded=True)) as response:
            assert response.status == 200
    cached = [key for key in cache if "cache=" in key[1]]
    assert [(method, target) for method, target, _ in cached] == [("GET", short)]


@pytest.fixture
async def agent(sc: RunningSidecar) -> Agent:
    issued = await sc.sidecar.services.identity.keys.issue("demo", "editor", label="e2e", scopes=ALL_SCOPES)
    return Agent(sc.http, sc.url + DEMO_MCP_PATH, {"X-API-Key": issued.raw})


async def test_the_allowlisted_mcp_route_still_works(agent: Agent, demo: RunningDemo) -> None:
    await agent.initialize()
    assert "mcp-adapter-execute-ability" in await agent.tools()
    reply = await agent.execute("demo/create-post", {"title": "through MCP", "content": "ok"})
    assert reply.status == 200, reply.body
    assert demo.site.ability_runs["demo/create-post"] == 1


@pytest.mark.parametrize(
    "path",
    [
        "/wp-json/mcp/other-server",
        "/wp-json/mcp",
        "/wp-json/mcp/",
        "/wp-json/MCP/mcp-adapter-default-server/extra",
        "/?rest_route=/mcp/other-server",
    ],
)
async def test_a_path_inside_the_mcp_namespace_that_is_not_allowlisted_is_404_and_counted(
    sc: RunningSidecar, agent: Agent, demo: RunningDemo, path: str
) -> None:
    before = metric(await sc.metrics_text(), "mcp_sidecar_denials_total", code="route_not_allowlisted")
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INITIALIZE})
    async with sc.http.post(
        sc.url + path, data=body, headers={**JSON_HEADERS, **agent.credential}
    ) as response:
        assert (response.status, await response.read()) == (404, b"")
    after = metric(
        await sc.metrics_text(), "mcp_sidecar_denials_total", site="demo", code="route_not_allowlisted"
    )
    assert after == before + 1
    assert demo.site.requests == []


@pytest.mark.parametrize(
    ("method", "query", "headers"),
    [
        ("POST", "?_method=DELETE", {}),
        ("POST", "?_method=GET", {}),
        ("POST", "?.method=GET", {}),
        ("POST", "", {"X-HTTP-Method-Override": "GET"}),
        ("POST", "", {"X_HTTP_METHOD_OVERRIDE": "DELETE"}),
        ("GET", "?_method=POST", {}),  # WordPress would run the JSON-RPC body the sidecar never read
        ("DELETE", "", {"X-HTTP-Method-Override": "POST"}),
    ],
)
async def test_a_method_override_on_the_mcp_route_is_refused(
    sc: RunningSidecar, agent: Agent, demo: RunningDemo, method: str, query: str, headers: dict[str, str]
) -> None:
    await agent.initialize()
    demo.site.reset_counters()
    call = agent.request(
        "tools/call",
        {
            "name": "mcp-adapter-execute-ability",
            "arguments": {"ability_name": "demo/create-post", "parameters": {"title": "t", "content": "c"}},
        },
    )
    url = URL(agent.url + query, encoded=True)
    async with sc.http.request(
        method, url, data=json.dumps(call), headers=agent.headers(headers)
    ) as response:
        assert (response.status, await response.read()) == (404, b"")
    assert demo.site.requests == []
    text = await sc.metrics_text()
    assert metric(text, "mcp_sidecar_denials_total", site="demo", code="method_override_not_allowed") >= 1
