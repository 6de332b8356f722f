"""The demo as the `mcp` SDK's own Streamable HTTP client sees it, in both connect modes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from proxy.demo import DEMO_APP_PASSWORDS, DEMO_MCP_PATH, RunningDemo
from tests.demo.wp_client import WpClient

pytestmark = pytest.mark.asyncio(loop_scope="module")

EXECUTE = "mcp-adapter-execute-ability"


@asynccontextmanager
async def connect(demo: RunningDemo, login: str, *, mode: str = "legacy") -> AsyncIterator[Client]:
    auth = httpx2.BasicAuth(login, DEMO_APP_PASSWORDS[login])
    headers = {"X-API-Key": "wpmcp_should_never_matter"}
    async with create_mcp_http_client(headers=headers, auth=auth) as http:
        transport = streamable_http_client(demo.url + DEMO_MCP_PATH, http_client=http)
        async with Client(transport, mode=mode) as client:
            yield client


async def test_legacy_mode_handshake_and_tools(wp: WpClient) -> None:
    async with connect(wp.demo, "editor") as client:
        assert client.protocol_version == "2025-11-25"
        assert client.server_info is not None
        assert client.server_info.name == "MCP Adapter Default Server"
        tools = await client.list_tools()
        assert [tool.name for tool in tools.tools] == [
            "mcp-adapter-discover-abilities",
            "mcp-adapter-get-ability-info",
            EXECUTE,
        ]
        result = await client.call_tool(
            EXECUTE, {"ability_name": "demo/create-post", "parameters": {"title": "SDK", "content": "c"}}
        )
        assert result.is_error is False
        assert result.structured_content is not None
        assert result.structured_content["success"] is True
    site = wp.demo.site
    assert site.calls["initialize"] == 1
    assert site.ability_runs == {"demo/create-post": 1}
    assert any(r.method == "DELETE" for r in site.requests)  # the client ended its session on close


async def test_auto_mode_falls_back_to_initialize(wp: WpClient) -> None:
    async with connect(wp.demo, "subscriber", mode="auto") as client:
        assert client.protocol_version == "2025-11-25"
        discovered = await client.call_tool("mcp-adapter-discover-abilities", {})
        assert discovered.structured_content is not None
        assert len(discovered.structured_content["abilities"]) == 4
    assert wp.demo.site.calls["server/discover"] == 1
    assert wp.demo.site.calls["initialize"] == 1


async def test_permission_denied_reaches_the_sdk_as_a_tool_error(wp: WpClient) -> None:
    async with connect(wp.demo, "subscriber") as client:
        result = await client.call_tool(
            EXECUTE, {"ability_name": "demo/update-settings", "parameters": {"title": "x"}}
        )
    assert result.is_error is True
    assert result.content[0].type == "text"
    assert result.content[0].text == "Permission denied"
    assert wp.demo.site.title == "WP MCP Demo"


async def test_unknown_tool_is_an_mcp_error(wp: WpClient) -> None:
    async with connect(wp.demo, "admin") as client:
        with pytest.raises(MCPError) as raised:
            await client.call_tool("demo-create-post", {})
    assert raised.value.code == -32003


async def test_sessions_of_two_users_stay_apart(wp: WpClient) -> None:
    async with connect(wp.demo, "editor") as editor, connect(wp.demo, "admin") as admin:
        ok = await admin.call_tool(EXECUTE, {"ability_name": "demo/list-users", "parameters": {}})
        refused = await editor.call_tool(EXECUTE, {"ability_name": "demo/list-users", "parameters": {}})
    assert ok.is_error is False
    assert refused.is_error is True
    session_ids = {r.headers.get("mcp-session-id") for r in wp.demo.site.requests} - {None}
    assert len(session_ids) == 2
