"""The MCP route over raw HTTP, held to what a WordPress 7.1 + mcp-adapter 0.5.0 site answers."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from proxy.demo import DEMO_MCP_PATH
from tests.demo.wp_client import INIT_PARAMS, WpClient, basic, execute, rpc

pytestmark = pytest.mark.asyncio(loop_scope="module")

FORBIDDEN = {
    "code": "rest_forbidden",
    "message": "Sorry, you are not allowed to do that.",
    "data": {"status": 401},
}
META_TOOLS = ["mcp-adapter-discover-abilities", "mcp-adapter-get-ability-info", "mcp-adapter-execute-ability"]


def error_of(body: Any) -> tuple[int, str]:
    return body["error"]["code"], body["error"]["message"]


async def test_initialize(wp: WpClient) -> None:
    reply = await wp.mcp("editor", rpc("initialize", INIT_PARAMS))
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert reply.headers["Allow"] == "POST, GET, DELETE"
    assert uuid.UUID(reply.headers["Mcp-Session-Id"]).version == 4
    assert reply.json == {
        "jsonrpc": "2.0",
        "id": 1,
        "result": {
            "protocolVersion": "2025-06-18",
            "capabilities": {
                "prompts": {"listChanged": False},
                "resources": {"subscribe": False, "listChanged": False},
                "tools": {"listChanged": False},
            },
            "serverInfo": {"name": "MCP Adapter Default Server", "version": "v1.0.0"},
            "instructions": "Default MCP server for WordPress abilities discovery and execution",
        },
    }


@pytest.mark.parametrize(
    ("asked", "answered"),
    [
        ("2025-11-25", "2025-11-25"),
        ("2024-11-05", "2024-11-05"),
        ("2025-03-26", "2025-11-25"),
        ("1999-01-01", "2025-11-25"),
    ],
)
async def test_initialize_version_negotiation(wp: WpClient, asked: str, answered: str) -> None:
    reply = await wp.mcp("admin", rpc("initialize", {**INIT_PARAMS, "protocolVersion": asked}))
    assert reply.json["result"]["protocolVersion"] == answered


async def test_notification_is_202_with_no_body(wp: WpClient) -> None:
    session = await wp.initialize("editor")
    reply = await wp.mcp("editor", rpc("notifications/initialized", rid=None), session=session)
    assert (reply.status, reply.raw) == (202, b"")
    assert wp.demo.site.calls["notifications/initialized"] == 2


async def test_tools_list_has_only_the_three_meta_tools(wp: WpClient) -> None:
    session = await wp.initialize("admin")
    reply = await wp.mcp("admin", rpc("tools/list"), session=session)
    assert reply.status == 200
    tools = reply.json["result"]["tools"]
    assert [tool["name"] for tool in tools] == META_TOOLS
    for tool in tools:
        assert {"title", "inputSchema", "outputSchema", "annotations"} <= set(tool)
    annotations = {tool["name"]: tool["annotations"] for tool in tools}
    assert annotations["mcp-adapter-discover-abilities"]["readOnlyHint"] is True
    assert annotations["mcp-adapter-execute-ability"]["destructiveHint"] is True
    assert tools[2]["inputSchema"]["required"] == ["ability_name", "parameters"]


async def test_tools_list_all_and_empty_resources_and_prompts(wp: WpClient) -> None:
    session = await wp.initialize("subscriber")
    listed = await wp.mcp("subscriber", rpc("tools/list/all"), session=session)
    assert [tool["available"] for tool in listed.json["result"]["tools"]] == [True, True, True]
    resources = await wp.mcp("subscriber", rpc("resources/list"), session=session)
    assert resources.json["result"]["resources"] == []
    prompts = await wp.mcp("subscriber", rpc("prompts/list"), session=session)
    assert prompts.json["result"]["prompts"] == []
    ping = await wp.mcp("subscriber", rpc("ping"), session=session)
    assert ping.json["result"] == {}


@pytest.mark.parametrize(
    ("message", "code", "text"),
    [
        (
            rpc("tools/call", {"name": "demo-create-post", "arguments": {}}),
            -32003,
            "Tool not found: demo-create-post",
        ),
        (rpc("completion/complete", {}), -32601, "Method not found: completion/complete"),
        (rpc("server/discover", {}), -32601, "Method not found: server/discover"),
        (rpc("resources/read", {"uri": "wp://x"}), -32002, "Resource not found: wp://x"),
        (rpc("prompts/get", {"name": "p"}), -32004, "Prompt not found: p"),
    ],
)
async def test_not_found_errors_are_http_404(
    wp: WpClient, message: dict[str, Any], code: int, text: str
) -> None:
    session = await wp.initialize("admin")
    reply = await wp.mcp("admin", message, session=session)
    assert reply.status == 404
    assert error_of(reply.json) == (code, text)
    assert reply.json["id"] == 1


async def test_session_is_bound_to_its_wordpress_user(wp: WpClient) -> None:
    session = await wp.initialize("editor")
    assert (await wp.mcp("editor", rpc("tools/list"), session=session)).status == 200
    stolen = await wp.mcp("subscriber", rpc("tools/list"), session=session)
    assert stolen.status == 404
    assert error_of(stolen.json) == (-32005, "Session not found: Invalid or expired session")
    bogus = await wp.mcp("editor", rpc("tools/list"), session=str(uuid.uuid4()))
    assert (bogus.status, error_of(bogus.json)[0]) == (404, -32005)


async def test_missing_session_header(wp: WpClient) -> None:
    reply = await wp.mcp("editor", rpc("tools/list"))
    assert reply.status == 400
    assert error_of(reply.json) == (-32600, "Invalid Request: Missing Mcp-Session-Id header")


async def test_delete_ends_the_session_for_its_owner_only(wp: WpClient) -> None:
    session = await wp.initialize("editor")
    other = await wp.request("DELETE", DEMO_MCP_PATH, login="subscriber", headers={"Mcp-Session-Id": session})
    assert other.status == 200
    assert (await wp.mcp("editor", rpc("ping"), session=session)).status == 200
    ended = await wp.request("DELETE", DEMO_MCP_PATH, login="editor", headers={"Mcp-Session-Id": session})
    assert (ended.status, ended.raw) == (200, b"")
    after = await wp.mcp("editor", rpc("ping"), session=session)
    assert (after.status, error_of(after.json)[0]) == (404, -32005)
    missing = await wp.request("DELETE", DEMO_MCP_PATH, login="editor")
    assert (missing.status, error_of(missing.json)[0]) == (400, -32600)


@pytest.mark.parametrize(
    ("version", "status"),
    [("2025-06-18", 200), ("2024-11-05", 200), ("2025-03-26", 400), ("2026-07-28", 400)],
)
async def test_protocol_version_header(wp: WpClient, version: str, status: int) -> None:
    session = await wp.initialize("editor")
    reply = await wp.mcp("editor", rpc("ping"), session=session, headers={"MCP-Protocol-Version": version})
    assert reply.status == status
    if status == 400:
        code, message = error_of(reply.json)
        assert code == -32600
        assert f"Unsupported protocol version: {version}" in message


async def test_get_is_405_and_401_first_without_credentials(wp: WpClient) -> None:
    reply = await wp.request("GET", DEMO_MCP_PATH, login="editor", headers={"Accept": "text/event-stream"})
    assert (reply.status, reply.raw) == (405, b"")
    anonymous = await wp.request("GET", DEMO_MCP_PATH)
    assert anonymous.status == 401
    assert anonymous.json == FORBIDDEN


@pytest.mark.parametrize(
    "authorization",
    [None, basic("editor", "wrong"), basic("ghost", "whatever"), "Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig"],
)
async def test_no_valid_credential_is_the_same_401(wp: WpClient, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    reply = await wp.mcp(None, rpc("initialize", INIT_PARAMS), headers=headers)
    assert reply.status == 401
    assert reply.json == FORBIDDEN
    assert "WWW-Authenticate" not in reply.headers
    assert not wp.demo.site.calls


async def test_logged_in_without_read_is_403(wp: WpClient) -> None:
    wp.demo.site.set_capabilities("subscriber", [])
    reply = await wp.mcp("subscriber", rpc("initialize", INIT_PARAMS))
    assert reply.status == 403
    assert reply.json["code"] == "rest_forbidden"


async def test_revoked_password_loses_mcp_access(wp: WpClient) -> None:
    session = await wp.initialize("editor")
    wp.demo.site.revoke_app_password("editor")
    reply = await wp.mcp("editor", rpc("tools/list"), session=session)
    assert reply.status == 401
    assert reply.json == FORBIDDEN


async def test_malformed_json_is_rest_invalid_json_even_anonymous(wp: WpClient) -> None:
    for login in ("editor", None):
        reply = await wp.request("POST", DEMO_MCP_PATH, login=login, raw=b'{"jsonrpc": "2.0", ')
        assert reply.status == 400
        assert reply.json["code"] == "rest_invalid_json"


@pytest.mark.parametrize("body", ['"just a string"', "[]", "42"])
async def test_non_request_json_is_invalid_request(wp: WpClient, body: str) -> None:
    reply = await wp.request("POST", DEMO_MCP_PATH, login="editor", raw=body.encode())
    assert reply.status == 400
    assert error_of(reply.json)[0] == -32600


async def test_batch_is_answered_with_an_array(wp: WpClient) -> None:
    session = await wp.initialize("editor")
    batch = [rpc("ping", rid=1), rpc("notifications/initialized", rid=None), rpc("tools/list", rid="b")]
    reply = await wp.mcp("editor", batch, session=session)
    assert reply.status == 200
    assert [(item["id"], "result" in item) for item in reply.json] == [(1, True), ("b", True)]
    refused = await wp.mcp("editor", [rpc("ping", rid=1), rpc("nope", rid=2)], session=session)
    assert refused.status == 200
    assert [item.get("error", {}).get("code") for item in refused.json] == [None, -32601]


async def test_answers_are_json_whatever_accept_says(wp: WpClient) -> None:
    session = await wp.initialize("editor")
    reply = await wp.mcp("editor", rpc("ping"), session=session, headers={"Accept": "text/event-stream"})
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/json; charset=UTF-8"


async def test_rest_route_spelling_reaches_mcp(wp: WpClient) -> None:
    reply = await wp.request(
        "POST",
        "/?rest_route=/mcp/mcp-adapter-default-server",
        login="admin",
        body=rpc("initialize", INIT_PARAMS),
    )
    assert reply.status == 200
    assert "Mcp-Session-Id" in reply.headers


async def call_tool(wp: WpClient, login: str, message: dict[str, Any]) -> dict[str, Any]:
    session = await wp.initialize(login)
    reply = await wp.mcp(login, message, session=session)
    assert reply.status == 200, reply.raw
    result: dict[str, Any] = reply.json["result"]
    return result


async def test_discover_lists_the_same_public_abilities_to_everyone(wp: WpClient) -> None:
    discover = rpc("tools/call", {"name": "mcp-adapter-discover-abilities", "arguments": {}})
    seen = [await call_tool(wp, login, discover) for login in ("subscriber", "editor", "admin")]
    assert seen[0] == seen[1] == seen[2]
    result = seen[0]
    assert result["isError"] is False
    names = [ability["name"] for ability in result["structuredContent"]["abilities"]]
    assert names == ["demo/get-post", "demo/create-post", "demo/list-users", "demo/update-settings"]
    assert json.loads(result["content"][0]["text"]) == result["structuredContent"]


async def test_execute_allowed(wp: WpClient) -> None:
    result = await call_tool(
        wp, "editor", execute("demo/create-post", {"title": "From MCP", "content": "Hi"})
    )
    assert result["isError"] is False
    assert result["structuredContent"]["success"] is True
    created = result["structuredContent"]["data"]
    assert wp.demo.site.posts[created["id"]].title == "From MCP"
    assert wp.demo.site.tool_calls == {("mcp-adapter-execute-ability", "demo/create-post"): 1}
    assert wp.demo.site.ability_runs == {"demo/create-post": 1}


async def test_execute_refused_by_the_ability_permission_is_http_200_is_error(wp: WpClient) -> None:
    result = await call_tool(wp, "subscriber", execute("demo/create-post", {"title": "x", "content": "y"}))
    assert result == {"content": [{"type": "text", "text": "Permission denied"}], "isError": True}
    assert not wp.demo.site.ability_runs
    assert wp.demo.site.tool_calls == {("mcp-adapter-execute-ability", "demo/create-post"): 1}


@pytest.mark.parametrize(
    ("ability", "parameters", "text"),
    [
        ("demo/nope", {}, "Ability 'demo/nope' not found"),
        ("demo/site-health", {}, 'Ability "demo/site-health" is not exposed via MCP (mcp.public!=true)'),
        ("demo/get-post", {"id": "one"}, 'Ability "demo/get-post" has invalid input.'),
        ("", {}, "Ability name is required"),
    ],
)
async def test_execute_refusals_carry_a_reason(
    wp: WpClient, ability: str, parameters: dict[str, Any], text: str
) -> None:
    result = await call_tool(wp, "admin", execute(ability, parameters))
    assert result["isError"] is True
    assert text in result["content"][0]["text"]
    assert not wp.demo.site.ability_runs


async def test_execute_failure_inside_the_ability(wp: WpClient) -> None:
    result = await call_tool(wp, "admin", execute("demo/get-post", {"id": 999}))
    assert result["isError"] is True
    assert result["structuredContent"] == {"success": False, "error": "Invalid post ID."}


async def test_get_ability_info(wp: WpClient) -> None:
    info = rpc(
        "tools/call", {"name": "mcp-adapter-get-ability-info", "arguments": {"ability_name": "demo/get-post"}}
    )
    result = await call_tool(wp, "subscriber", info)
    assert result["structuredContent"]["input_schema"]["required"] == ["id"]
    assert result["structuredContent"]["meta"]["mcp"]["public"] is True
    hidden = rpc(
        "tools/call",
        {"name": "mcp-adapter-get-ability-info", "arguments": {"ability_name": "demo/site-health"}},
    )
    assert (await call_tool(wp, "admin", hidden))["isError"] is True


async def test_counters_headers_and_reset(wp: WpClient) -> None:
    site = wp.demo.site
    session = await wp.initialize("editor")
    await wp.mcp("editor", rpc("tools/list"), session=session, headers={"X-API-Key": "wpmcp_client_secret"})
    assert site.calls == {"initialize": 1, "notifications/initialized": 1, "tools/list": 1}
    assert site.header_values("x-api-key") == ["wpmcp_client_secret"]
    assert site.header_values("Authorization")[0] == basic("editor")
    site.reset_counters()
    assert not site.calls
    assert not site.requests
    assert not site.header_values("authorization")
