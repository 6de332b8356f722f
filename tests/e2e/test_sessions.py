"""MCP sessions through the sidecar: bound to the principal that made them, sealed, ended upstream.

WordPress's session id never reaches the client: it gets that id sealed with its principal, so a
session id replayed with another credential (even one acting as the same WordPress user) is 404.
"""

from __future__ import annotations

import uuid

import pytest

from proxy.demo import DEMO_MCP_PATH, RunningDemo
from proxy.mcp.session import SESSION_PREFIX
from tests.demo_upstream import demo_fixture
from tests.e2e.authz_support import PROTOCOL_VERSION, Agent, guarded

pytestmark = pytest.mark.asyncio(loop_scope="module")
demo = demo_fixture()

EDITOR_ID = 2


def mcp_requests(demo: RunningDemo, method: str = "POST") -> list[dict[str, str]]:
    return [r.headers for r in demo.site.requests if r.path == DEMO_MCP_PATH and r.method == method]


@pytest.mark.parametrize("thief", ["editor", "subscriber"])
async def test_a_session_id_used_with_another_key_is_404(demo: RunningDemo, thief: str) -> None:
    async with guarded(demo) as g:
        owner = await g.session("editor")
        stolen = g.agent(await g.key(thief))
        stolen.session_id = owner.session_id
        reply = await stolen.call("tools/list")
        assert (reply.status, reply.code, reply.rpc_code) == (404, "session_not_found", -32005)
        assert reply.body["id"] == 1
        assert await owner.tools()  # the owner's session still works
    assert demo.site.calls["tools/list"] == 1


async def test_the_session_is_checked_before_the_call(demo: RunningDemo) -> None:
    async with guarded(demo) as g:
        owner = await g.session("admin")
        stolen = g.agent(await g.key("subscriber"))
        stolen.session_id = owner.session_id
        reply = await stolen.execute("demo/create-post", {"title": "t", "content": "c"})
    assert (reply.status, reply.code) == (404, "session_not_found")  # not a hint about the call


async def test_a_session_id_used_with_a_bearer_token_of_the_same_user_is_404(demo: RunningDemo) -> None:
    async with guarded(demo) as g:
        owner = await g.session("editor")
        stolen = g.agent({"Authorization": f"Bearer {await g.bearer('editor')}"})
        stolen.session_id = owner.session_id
        assert (await stolen.call("tools/list")).status == 404
    assert demo.site.calls["tools/list"] == 0


@pytest.mark.parametrize(
    "forged",
    [SESSION_PREFIX + "AAAA", "not-sealed", str(uuid.uuid4())],
    ids=["garbled", "unprefixed", "a-raw-upstream-uuid"],
)
async def test_forged_session_ids_are_404(demo: RunningDemo, forged: str) -> None:
    async with guarded(demo) as g:
        agent = g.agent(await g.key("editor"))
        agent.session_id = forged
        assert (await agent.call("tools/list")).code == "session_not_found"
    assert demo.site.calls["tools/list"] == 0


async def test_the_sealed_id_is_not_the_upstream_id(demo: RunningDemo) -> None:
    async with guarded(demo) as g:
        agent = await g.session("editor")
        await agent.call("ping")
    sealed = agent.session_id
    assert sealed is not None
    assert sealed.startswith(SESSION_PREFIX)
    upstream = mcp_requests(demo)[-1]["mcp-session-id"]
    assert uuid.UUID(upstream).version == 4  # what WordPress issued, and gets back
    assert upstream not in sealed
    assert demo.site.sessions.touch(EDITOR_ID, upstream)


async def test_delete_ends_the_session_upstream(demo: RunningDemo) -> None:
    async with guarded(demo) as g:
        agent = await g.session("editor")
        assert demo.site.sessions.count(EDITOR_ID) == 1
        async with g.sc.http.delete(agent.url, headers=agent.headers()) as response:
            assert response.status == 200
        assert demo.site.sessions.count(EDITOR_ID) == 0
        reply = await agent.call("tools/list")  # WordPress no longer knows it: the client re-initializes
        assert (reply.status, reply.rpc_code) == (404, -32005)
    assert mcp_requests(demo, "DELETE")[0]["mcp-session-id"] == mcp_requests(demo)[-1]["mcp-session-id"]


async def test_another_key_cannot_end_a_session(demo: RunningDemo) -> None:
    async with guarded(demo) as g:
        owner = await g.session("editor")
        thief = Agent(g.sc.http, g.mcp_url, {"X-API-Key": await g.key("editor")}, session_id=owner.session_id)
        async with g.sc.http.delete(thief.url, headers=thief.headers()) as response:
            assert response.status == 404
    assert demo.site.sessions.count(EDITOR_ID) == 1
    assert mcp_requests(demo, "DELETE") == []


async def test_protocol_version_and_last_event_id_pass_through(demo: RunningDemo) -> None:
    async with guarded(demo) as g:
        agent = await g.session("editor")
        await agent.call("tools/list")
        stream_headers = {**agent.headers(), "Accept": "text/event-stream", "Last-Event-ID": "evt-41"}
        async with g.sc.http.get(agent.url, headers=stream_headers) as response:
            assert response.status == 405  # mcp-adapter has no GET stream; its answer passes through
    post, get = mcp_requests(demo)[-1], mcp_requests(demo, "GET")[0]
    assert post["mcp-protocol-version"] == PROTOCOL_VERSION
    assert get["mcp-protocol-version"] == PROTOCOL_VERSION
    assert get["last-event-id"] == "evt-41"
    assert get["mcp-session-id"] == post["mcp-session-id"]
    assert uuid.UUID(get["mcp-session-id"])
