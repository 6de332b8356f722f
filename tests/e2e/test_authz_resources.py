"""Resources and prompts backed by abilities follow those abilities' rules: listed only to callers who
may use them, read or fetched only by them (refused before WordPress sees the request). Entries that
name no listed ability are WordPress's own to judge, and pass."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from proxy.demo import DEMO_MCP_PATH
from tests.e2e.authz_support import ALL_SCOPES, FakeWordPress, Guarded, fake_wordpress, guarded

pytestmark = pytest.mark.asyncio(loop_scope="module")

GET, CREATE, SETTINGS = "demo/get-post", "demo/create-post", "demo/update-settings"
README = "file:///readme.txt"  # a resource no ability backs
RESOURCES = [{"uri": uri, "name": uri} for uri in (GET, SETTINGS, README)] + [{"name": "no uri"}]
PROMPTS = [{"name": name} for name in (CREATE, GET, "greeting")] + [{"title": "no name"}]


async def _mcp(request: web.Request, body: Any) -> web.StreamResponse:
    """A WordPress MCP endpoint that lists every resource and prompt to everyone, as mcp-adapter does."""
    answers = []
    for message in body if isinstance(body, list) else [body]:
        method = message["method"]
        if method == "resources/list":
            result: dict[str, Any] = {"resources": RESOURCES, "cacheScope": "public"}
        elif method == "prompts/list":
            result = {"prompts": PROMPTS}
        else:
            result = {"contents": [], "messages": []}
        answers.append({"jsonrpc": "2.0", "id": message["id"], "result": result})
    return web.json_response(answers if isinstance(body, list) else answers[0])


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def site() -> AsyncIterator[tuple[FakeWordPress, Guarded]]:
    toolsets = ["read-only", "content", "admin"]  # admin: demo/update-settings is offered here
    async with (
        fake_wordpress({DEMO_MCP_PATH: _mcp}) as wordpress,
        guarded(wordpress.url, toolsets=toolsets) as g,
    ):
        yield wordpress, g


def _methods_seen(wordpress: FakeWordPress) -> list[str]:
    bodies = wordpress.bodies(DEMO_MCP_PATH)
    return [m["method"] for body in bodies for m in (body if isinstance(body, list) else [body])]


@pytest.mark.parametrize(
    ("user", "scopes", "resources", "prompts"),
    [
        pytest.param("admin", ALL_SCOPES, {GET, SETTINGS, README}, {CREATE, GET, "greeting"}, id="admin"),
        pytest.param(
            "admin",
            tuple(s for s in ALL_SCOPES if s != "settings.write"),
            {GET, README},
            {CREATE, GET, "greeting"},
            id="admin-without-settings-scope",
        ),
        pytest.param("editor", ALL_SCOPES, {GET, README}, {CREATE, GET, "greeting"}, id="editor"),
        pytest.param("subscriber", ALL_SCOPES, {GET, README}, {GET, "greeting"}, id="subscriber"),
    ],
)
async def test_listings_show_only_what_the_caller_may_use(
    site: tuple[FakeWordPress, Guarded],
    user: str,
    scopes: tuple[str, ...],
    resources: set[str],
    prompts: set[str],
) -> None:
    _, g = site
    agent = g.agent(await g.key(user, scopes=scopes))
    listed = await agent.call("resources/list")
    assert listed.status == 200, listed.body
    assert {entry["uri"] for entry in listed.body["result"]["resources"]} == resources
    assert listed.body["result"]["cacheScope"] == "private"  # filtered for one caller: not shareable
    offered = await agent.call("prompts/list")
    assert {entry["name"] for entry in offered.body["result"]["prompts"]} == prompts


async def test_a_batch_of_listings_is_filtered_message_by_message(
    site: tuple[FakeWordPress, Guarded],
) -> None:
    _, g = site
    agent = g.agent(await g.key("subscriber"))
    reply = await agent.post([agent.request("resources/list"), agent.request("prompts/list")])
    assert reply.status == 200, reply.body
    by_id = {answer["id"]: answer["result"] for answer in reply.body}
    assert {entry["uri"] for entry in by_id[1]["resources"]} == {GET, README}
    assert {entry["name"] for entry in by_id[2]["prompts"]} == {GET, "greeting"}


@pytest.mark.parametrize(
    ("user", "method", "params", "code"),
    [
        pytest.param("editor", "resources/read", {"uri": SETTINGS}, "insufficient_capability", id="read"),
        pytest.param("subscriber", "prompts/get", {"name": CREATE}, "insufficient_capability", id="get"),
    ],
)
async def test_a_hidden_resource_or_prompt_is_refused_before_wordpress(
    site: tuple[FakeWordPress, Guarded], user: str, method: str, params: dict[str, str], code: str
) -> None:
    wordpress, g = site
    agent = g.agent(await g.key(user))
    before = _methods_seen(wordpress).count(method)
    reply = await agent.call(method, params)
    assert reply.status == 403
    assert reply.code == code
    assert _methods_seen(wordpress).count(method) == before


@pytest.mark.parametrize(
    ("method", "params"),
    [
        pytest.param("resources/read", {"uri": GET}, id="backed-read"),
        pytest.param("resources/read", {"uri": README}, id="unbacked-read"),
        pytest.param("prompts/get", {"name": CREATE}, id="backed-get"),
        pytest.param("prompts/get", {"name": "greeting"}, id="unbacked-get"),
    ],
)
async def test_what_the_caller_may_use_reaches_wordpress(
    site: tuple[FakeWordPress, Guarded], method: str, params: dict[str, str]
) -> None:
    wordpress, g = site
    agent = g.agent(await g.key("editor"))
    before = _methods_seen(wordpress).count(method)
    reply = await agent.call(method, params)
    assert reply.status == 200, reply.body
    assert _methods_seen(wordpress).count(method) == before + 1
