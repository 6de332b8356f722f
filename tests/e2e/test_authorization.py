"""Who sees and may call what, end to end: the sidecar in front of the demo WordPress.

visible = profile ∩ ?toolset= ∩ the site's toolsets ∩ scopes ∩ the WordPress user's capabilities,
for tools/list and for the abilities mcp-adapter-discover-abilities lists; a hidden tool or ability is
refused by the sidecar and never reaches WordPress; WordPress never sees a client credential.
"""

from __future__ import annotations

import asyncio
import base64
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from proxy.demo import DEMO_APP_PASSWORDS, DEMO_MCP_PATH, RunningDemo, start_demo_upstream
from tests.demo_upstream import demo_fixture
from tests.e2e.authz_support import (
    ALL_SCOPES,
    META_TOOLS,
    discover_params,
    execute_params,
    fake_wordpress,
    guarded,
    write_rules,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")
demo = demo_fixture()

GET, CREATE, USERS, SETTINGS = "demo/get-post", "demo/create-post", "demo/list-users", "demo/update-settings"
NEW_POST = {"title": "From an agent", "content": "Hello"}
USERS_ME = "/wp-json/wp/v2/users/me"
EXECUTE = "mcp-adapter-execute-ability"


def users_me_lookups(demo: RunningDemo) -> int:
    return sum(1 for request in demo.site.requests if request.path == USERS_ME)


# -- what each caller sees ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "scopes", "profile", "query", "abilities"),
    [
        pytest.param("admin", ALL_SCOPES, None, "", {GET, CREATE, USERS}, id="admin"),
        pytest.param("admin", ALL_SCOPES, "read-only", "", {GET, USERS}, id="admin-profile-read-only"),
        pytest.param("admin", ALL_SCOPES, "content", "", {GET, CREATE, USERS}, id="admin-profile-content"),
        pytest.param("admin", ALL_SCOPES, None, "?toolset=read-only", {GET, USERS}, id="admin-narrowed"),
        pytest.param(
            "admin",
            ALL_SCOPES,
            "read-only",
            "?toolset=content",
            {GET, USERS},
            id="admin-toolset-cannot-widen",
        ),
        pytest.param("admin", ("mcp.read", "content.read"), None, "", {GET}, id="admin-few-scopes"),
        pytest.param("editor", ALL_SCOPES, None, "", {GET, CREATE}, id="editor"),
        pytest.param("editor", ALL_SCOPES, "read-only", "", {GET}, id="editor-profile-read-only"),
        pytest.param(
            "editor", ALL_SCOPES, None, "?toolset=content,read-only", {GET, CREATE}, id="editor-both"
        ),
        pytest.param("subscriber", ALL_SCOPES, None, "", {GET}, id="subscriber"),
        pytest.param("subscriber", ALL_SCOPES, "content", "", {GET}, id="subscriber-profile-cannot-grant"),
    ],
)
async def test_exact_visible_tools_and_abilities(
    demo: RunningDemo,
    user: str,
    scopes: tuple[str, ...],
    profile: str | None,
    query: str,
    abilities: set[str],
) -> None:
    async with guarded(demo) as g:
        agent = await g.session(user, scopes=scopes, profile=profile, query=query)
        assert await agent.tools() == META_TOOLS
        assert await agent.abilities() == abilities
    assert demo.site.tool_calls == Counter({("mcp-adapter-discover-abilities", None): 1})


async def test_site_toolsets_bound_what_anyone_sees(demo: RunningDemo) -> None:
    async with guarded(demo, toolsets=["read-only", "content", "admin"]) as g:
        admin = await g.session("admin", profile="admin")
        assert await admin.abilities() == {GET, CREATE, USERS, SETTINGS}
        narrowed = await g.session("admin", query="?toolset=admin")
        assert await narrowed.abilities() == {GET, CREATE, USERS, SETTINGS}
        editor = await g.session("editor", query="?toolset=admin")
        assert await editor.abilities() == {GET, CREATE}  # the toolset never grants a capability


async def test_without_the_mcp_scope_no_tool_is_visible(demo: RunningDemo) -> None:
    async with guarded(demo) as g:
        agent = await g.session("admin", scopes=("content.read", "content.write"))
        assert await agent.tools() == set()
        reply = await agent.call("tools/call", discover_params())
        assert (reply.status, reply.code) == (403, "insufficient_scope")
    assert demo.site.tool_calls == Counter()


async def test_rules_can_hide_a_meta_tool(demo: RunningDemo, tmp_path: Path) -> None:
    runner = {
        "description": "Discover and run",
        "include": ["mcp-adapter-discover-abilities", EXECUTE, "*/*"],
    }
    rules = write_rules(tmp_path, toolsets={"toolsets": {"runner": runner}})
    async with guarded(demo, top={"rules": rules}, toolsets=["read-only", "content", "runner"]) as g:
        agent = await g.session("editor", profile="runner")
        assert await agent.tools() == {"mcp-adapter-discover-abilities", EXECUTE}
        reply = await agent.call(
            "tools/call", {"name": "mcp-adapter-get-ability-info", "arguments": {"ability_name": GET}}
        )
        assert (reply.status, reply.code) == (403, "tool_not_in_toolset")
    assert demo.site.calls["tools/call"] == 0


@pytest.mark.parametrize("toolset", ["bogus", "admin", "read-only,bogus"])
async def test_unknown_or_unoffered_toolset_is_400(demo: RunningDemo, toolset: str) -> None:
    async with guarded(demo) as g:
        agent = g.agent(await g.key("admin"), query=f"?toolset={toolset}")
        reply = await agent.call("initialize", {})
        assert (reply.status, reply.code, reply.rpc_code) == (400, "unknown_toolset", -32600)
        assert "offered: content, read-only" in reply.body["error"]["message"]
    assert demo.site.calls == Counter()


# -- refused before WordPress sees it ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "profile", "query", "ability", "status", "code", "rpc_code"),
    [
        pytest.param(
            "editor", None, "", USERS, 403, "insufficient_capability", -32008, id="editor-list-users"
        ),
        pytest.param("subscriber", None, "", CREATE, 403, "insufficient_capability", -32008, id="subscriber"),
        pytest.param("admin", "read-only", "", CREATE, 403, "ability_not_in_toolset", -32008, id="profile"),
        pytest.param(
            "admin", None, "?toolset=read-only", CREATE, 403, "ability_not_in_toolset", -32008, id="query"
        ),
        pytest.param("admin", None, "", SETTINGS, 403, "ability_not_in_toolset", -32008, id="site-toolsets"),
        pytest.param("admin", None, "", "demo/site-health", 404, "unknown_ability", -32003, id="unlisted"),
    ],
)
async def test_hidden_ability_is_refused_before_wordpress(
    demo: RunningDemo,
    user: str,
    profile: str | None,
    query: str,
    ability: str,
    status: int,
    code: str,
    rpc_code: int,
) -> None:
    async with guarded(demo) as g:
        agent = await g.session(user, profile=profile, query=query)
        reply = await agent.execute(ability, NEW_POST)
    assert (reply.status, reply.code, reply.rpc_code) == (status, code, rpc_code)
    assert reply.body["id"] == agent._next_id
    assert reply.body["error"]["data"]["target"] == ability
    assert "WWW-Authenticate" not in reply.headers  # no scope would help
    assert demo.site.calls["tools/call"] == 0
    assert demo.site.ability_runs == Counter()


async def test_capability_refusal_names_the_capability(demo: RunningDemo) -> None:
    async with guarded(demo) as g:
        reply = await (await g.session("editor")).execute(USERS)
    assert "'list_users' capability" in reply.body["error"]["message"]


async def test_unknown_tool_is_refused_like_wordpress_does(demo: RunningDemo) -> None:
    async with guarded(demo) as g:
        agent = await g.session("admin")
        reply = await agent.call("tools/call", {"name": "demo-create-post", "arguments": NEW_POST})
    assert (reply.status, reply.code, reply.rpc_code) == (404, "unknown_tool", -32003)
    assert demo.site.calls["tools/call"] == 0


async def test_missing_scope_is_a_step_up_challenge(demo: RunningDemo) -> None:
    async with guarded(demo) as g:
        agent = await g.session("admin", scopes=("mcp.read", "content.read"))
        reply = await agent.execute(CREATE, NEW_POST)
        resource_metadata = g.sc.sidecar.services.holder.current.sites[0].resource_metadata
    assert (reply.status, reply.code, reply.rpc_code) == (403, "insufficient_scope", -32008)
    challenge = reply.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert 'error="insufficient_scope"' in challenge
    assert 'scope="content.read content.write mcp.read"' in challenge  # all it needs, nothing it has lost
    assert f'resource_metadata="{resource_metadata}"' in challenge
    assert "'content.write' scope" in reply.body["error"]["message"]
    assert demo.site.calls["tools/call"] == 0


async def test_allowed_call_runs_as_the_mapped_user(demo: RunningDemo) -> None:
    async with guarded(demo) as g:
        reply = await (await g.session("editor")).execute(CREATE, NEW_POST)
    assert reply.status == 200
    assert reply.body["result"]["structuredContent"]["data"]["author"] == 2  # the editor
    assert demo.site.ability_runs == Counter({CREATE: 1})


# -- no client credential reaches WordPress ----------------------------------------------------------


async def test_no_client_credential_ever_reaches_wordpress(demo: RunningDemo) -> None:
    async with guarded(demo) as g:
        key = await g.key("editor")
        token = await g.bearer("editor")
        secrets = [key, token, "PHPSESSID=agent-cookie"]
        for credential in ({"X-API-Key": key}, {"Authorization": f"Bearer {token}"}):
            agent = g.agent({**credential, "Cookie": secrets[2], "Proxy-Authorization": "Basic eDp5"})
            await agent.initialize()
            assert await agent.abilities() == {GET, CREATE}
            assert (await agent.execute(CREATE, NEW_POST)).status == 200
            async with g.sc.http.delete(agent.url, headers=agent.headers()) as response:
                assert response.status == 200
    expected = "Basic " + base64.b64encode(f"editor:{DEMO_APP_PASSWORDS['editor']}".encode()).decode()
    assert demo.site.requests
    for request in demo.site.requests:
        if request.path == "/wp-json/":
            continue  # the entitlement probe, sent without any credential
        assert request.headers.get("authorization") == expected, request
        assert not {"x-api-key", "cookie", "proxy-authorization"} & request.headers.keys(), request
        assert not any(secret in value for secret in secrets for value in request.headers.values())
    assert demo.site.ability_runs == Counter({CREATE: 2})


# -- WordPress capabilities: cached briefly, fail closed ---------------------------------------------


async def test_capability_change_takes_effect_within_the_ttl(demo: RunningDemo) -> None:
    ttl = 0.3
    async with guarded(demo, top={"capabilities": {"ttl_seconds": ttl}}) as g:
        agent = await g.session("editor")
        assert await agent.abilities() == {GET, CREATE}
        demo.site.revoke("editor", "edit_posts")
        demo.site.grant("editor", "list_users")
        await asyncio.sleep(ttl + 0.05)
        assert await agent.abilities() == {GET, USERS}
        reply = await agent.execute(CREATE, NEW_POST)
        assert (reply.status, reply.code) == (403, "insufficient_capability")
        assert (await agent.execute(USERS)).status == 200
    assert demo.site.ability_runs == Counter({USERS: 1})


async def test_a_burst_makes_one_capability_lookup(demo: RunningDemo) -> None:
    async with guarded(demo) as g:
        agent = g.agent(await g.key("editor"))
        replies = await asyncio.gather(*(agent.call("initialize", {}) for _ in range(8)))
    assert {reply.status for reply in replies} == {200}
    assert users_me_lookups(demo) == 1


async def test_wordpress_down_during_capability_lookup_fails_closed() -> None:
    wordpress = await start_demo_upstream()
    ttl = 0.2
    try:
        async with guarded(wordpress, top={"capabilities": {"ttl_seconds": ttl}}) as g:
            agent = await g.session("editor")
            assert await agent.tools() == META_TOOLS
            await wordpress.close()
            await asyncio.sleep(ttl + 0.05)
            reply = await agent.call("tools/list")
    finally:
        await wordpress.close()
    assert (reply.status, reply.code, reply.rpc_code) == (503, "capabilities_unavailable", -32000)


async def test_revoked_application_password_is_denied_without_endless_retries(demo: RunningDemo) -> None:
    async with guarded(demo) as g:
        agent = await g.session("editor")
        assert users_me_lookups(demo) == 1
        demo.site.revoke_app_password("editor")
        first = await agent.call("tools/list")  # capabilities still cached: WordPress itself refuses
        assert first.status == 401
        second = await agent.call("tools/list")  # the cache was dropped: asked again, refused
        assert (second.status, second.code) == (403, "upstream_credential_rejected")
        assert users_me_lookups(demo) == 2
        for _ in range(3):  # the refusal is remembered for a while: WordPress is not hammered
            assert (await agent.call("tools/list")).code == "upstream_credential_rejected"
        assert users_me_lookups(demo) == 2
    assert demo.site.calls["tools/list"] == 0


# -- batches: judged message by message --------------------------------------------------------------


def _request(id_: Any, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "id": id_, "method": method}
    if params is not None:
        message["params"] = params
    return message


async def test_batch_mixing_allowed_and_denied_calls(demo: RunningDemo) -> None:
    batch = [
        _request(1, "tools/list"),
        _request("create", "tools/call", execute_params(CREATE, NEW_POST)),
        _request(3, "tools/call", execute_params(USERS)),
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        _request("settings", "tools/call", execute_params(SETTINGS, {"title": "Owned"})),
        _request(5, "tools/call", discover_params()),
    ]
    async with guarded(demo) as g:
        agent = await g.session("editor")
        reply = await agent.post(batch)
    assert reply.status == 200
    answers = {answer["id"]: answer for answer in reply.body}
    assert len(reply.body) == len(answers) == 5
    assert set(answers) == {1, "create", 3, "settings", 5}
    assert {tool["name"] for tool in answers[1]["result"]["tools"]} == META_TOOLS
    assert answers["create"]["result"]["structuredContent"]["success"] is True
    assert answers[3]["error"]["data"]["code"] == "insufficient_capability"
    assert answers["settings"]["error"]["data"]["code"] == "ability_not_in_toolset"
    assert {a["name"] for a in answers[5]["result"]["structuredContent"]["abilities"]} == {GET, CREATE}
    assert demo.site.tool_calls == Counter(
        {(EXECUTE, CREATE): 1, ("mcp-adapter-discover-abilities", None): 1}
    )
    assert demo.site.calls["notifications/initialized"] == 1
    assert demo.site.title == "WP MCP Demo"


async def test_batch_of_only_denied_calls_never_reaches_wordpress(demo: RunningDemo) -> None:
    async with guarded(demo) as g:
        agent = await g.session("subscriber")
        demo.site.reset_counters()
        reply = await agent.post(
            [
                _request(7, "tools/call", execute_params(CREATE, NEW_POST)),
                _request("u", "tools/call", execute_params(USERS)),
            ]
        )
    assert reply.status == 200
    assert [(answer["id"], answer["error"]["data"]["code"]) for answer in reply.body] == [
        (7, "insufficient_capability"),
        ("u", "insufficient_capability"),
    ]
    assert demo.site.calls == Counter()
    assert not [request for request in demo.site.requests if request.path == DEMO_MCP_PATH]


async def test_batch_of_notifications_with_a_denied_one_forwards_the_rest(demo: RunningDemo) -> None:
    denied = {"jsonrpc": "2.0", "method": "tools/call", "params": execute_params(USERS)}
    async with guarded(demo) as g:
        agent = await g.session("editor")
        reply = await agent.post([denied, {"jsonrpc": "2.0", "method": "notifications/initialized"}])
    assert (reply.status, reply.body) == (202, None)
    assert demo.site.calls == Counter({"initialize": 1, "notifications/initialized": 1})


# -- result-size caps --------------------------------------------------------------------------------


async def _echo_mcp(request: web.Request, body: Any) -> web.StreamResponse:
    return web.json_response(
        {"jsonrpc": "2.0", "id": body["id"], "result": {"content": [], "isError": False}}
    )


@pytest.mark.parametrize(
    ("anonymous", "asked", "forwarded"),
    [
        pytest.param(True, 500, 5, id="anonymous-capped"),
        pytest.param(False, 500, 50, id="authenticated-capped"),
        pytest.param(False, 7, 7, id="within-cap"),
        pytest.param(False, "all", 50, id="all-means-the-cap"),
        pytest.param(False, -1, 50, id="minus-one-means-the-cap"),
        pytest.param(True, None, None, id="absent-stays-absent"),
    ],
)
async def test_result_size_arguments_are_clamped_per_tier(
    tmp_path: Path, anonymous: bool, asked: Any, forwarded: Any
) -> None:
    caps = {"limit": {"anonymous": 5, "authenticated": 50}}
    entry = {"capability": "list_users", "scope": "users.read", "writes": False, "result_caps": caps}
    rules = write_rules(tmp_path, tools={"abilities": {USERS: entry}})
    anonymous_access = {
        "enabled": True,
        "wp_user": "admin",
        "scopes": ["mcp.read", "users.read"],
        "profile": None,
    }
    parameters = {} if asked is None else {"limit": asked, "orderby": "name"}
    async with fake_wordpress({DEMO_MCP_PATH: _echo_mcp}) as wordpress:
        wordpress.capabilities["editor"].add("list_users")
        async with guarded(wordpress.url, top={"rules": rules}, anonymous=anonymous_access) as g:
            agent = g.agent({} if anonymous else await g.key("editor"))
            reply = await agent.execute(USERS, parameters)
            assert reply.status == 200, reply.body
    [sent] = wordpress.bodies(DEMO_MCP_PATH)
    expected = {} if forwarded is None else {"limit": forwarded, "orderby": "name"}
    assert sent["params"]["arguments"] == {"ability_name": USERS, "parameters": expected}


async def test_site_ceiling_lowers_the_rules_cap(tmp_path: Path) -> None:
    caps = {"limit": {"anonymous": 5, "authenticated": 50}}
    entry = {"capability": "list_users", "scope": "users.read", "writes": False, "result_caps": caps}
    rules = write_rules(tmp_path, tools={"abilities": {USERS: entry}})
    limits = {"enabled": False, "result_caps": {"authenticated": 20}}
    async with fake_wordpress({DEMO_MCP_PATH: _echo_mcp}) as wordpress:
        wordpress.capabilities["editor"].add("list_users")
        async with guarded(wordpress.url, top={"rules": rules, "rate_limits": limits}) as g:
            agent = g.agent(await g.key("editor"))
            assert (await agent.execute(USERS, {"limit": 500})).status == 200
    [sent] = wordpress.bodies(DEMO_MCP_PATH)
    assert sent["params"]["arguments"]["parameters"] == {"limit": 20}
