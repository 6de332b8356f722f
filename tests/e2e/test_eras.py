"""Both protocol eras through the sidecar, with the real `mcp` SDK client.

`legacy` speaks the handshake era; `auto` first probes the stateless era (`server/discover`), which
WordPress does not speak, and falls back to `initialize`. Either way tools are filtered and hidden
calls refused. A stateless-era request whose routing headers disagree with its body is refused (400)
before anything else happens: not even the capability lookup reaches WordPress.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from proxy.demo import RunningDemo
from tests.demo_upstream import demo_fixture
from tests.e2e.authz_support import JSON_HEADERS, Guarded, execute_params, guarded, write_rules

pytestmark = pytest.mark.asyncio(loop_scope="module")
demo = demo_fixture()

DISCOVER, EXECUTE = "mcp-adapter-discover-abilities", "mcp-adapter-execute-ability"
STATELESS = "2026-07-28"


@asynccontextmanager
async def sdk_client(g: Guarded, key: str, mode: str) -> AsyncIterator[Client]:
    http = create_mcp_http_client(headers={"X-API-Key": key})
    async with http, Client(streamable_http_client(g.mcp_url, http_client=http), mode=mode) as client:  # type: ignore[arg-type]
        yield client


@pytest.fixture
def runner_rules(tmp_path: Path) -> dict[str, str]:
    """A toolset without mcp-adapter-get-ability-info, so tools/list visibly shrinks."""
    runner = {"description": "Discover and run", "include": [DISCOVER, EXECUTE, "*/*"]}
    return write_rules(tmp_path, toolsets={"toolsets": {"runner": runner}})


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_sdk_client_sees_filtered_tools_and_is_refused_hidden_calls(
    demo: RunningDemo, runner_rules: dict[str, str], mode: str
) -> None:
    site = {"toolsets": ["read-only", "content", "runner"]}
    async with guarded(demo, top={"rules": runner_rules}, **site) as g:
        key = await g.key("editor", profile="runner")
        async with sdk_client(g, key, mode) as client:
            assert client.protocol_version == "2025-11-25"  # the handshake era, in both modes
            assert {tool.name for tool in (await client.list_tools()).tools} == {DISCOVER, EXECUTE}
            discovered = await client.call_tool(DISCOVER, {})
            assert discovered.structured_content is not None
            names = {ability["name"] for ability in discovered.structured_content["abilities"]}
            assert names == {"demo/get-post", "demo/create-post"}
            got = await client.call_tool(EXECUTE, {"ability_name": "demo/get-post", "parameters": {"id": 1}})
            assert not got.is_error
            assert got.structured_content is not None
            assert got.structured_content["data"]["title"] == "Hello world!"
            with pytest.raises(MCPError) as refused:
                await client.call_tool(EXECUTE, {"ability_name": "demo/list-users", "parameters": {}})
            assert refused.value.error.code == -32008
            assert refused.value.error.data["code"] == "insufficient_capability"
            with pytest.raises(MCPError) as hidden:
                await client.call_tool("mcp-adapter-get-ability-info", {"ability_name": "demo/get-post"})
            assert hidden.value.error.data["code"] == "tool_not_in_toolset"
    assert demo.site.tool_calls == Counter({(DISCOVER, None): 1, (EXECUTE, "demo/get-post"): 1})
    assert demo.site.calls["initialize"] == 1
    assert demo.site.calls["server/discover"] == (1 if mode == "auto" else 0)


def _stateless_call(params: dict[str, Any]) -> dict[str, Any]:
    meta = {"io.modelcontextprotocol/protocolVersion": STATELESS}
    return {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {**params, "_meta": meta}}


GET_POST = execute_params("demo/get-post", {"id": 1})


@pytest.mark.parametrize(
    ("headers", "header"),
    [
        pytest.param({"Mcp-Method": "tools/list", "Mcp-Name": EXECUTE}, "Mcp-Method", id="method"),
        pytest.param({"Mcp-Method": "tools/call", "Mcp-Name": DISCOVER}, "Mcp-Name", id="name"),
        pytest.param({"Mcp-Method": "tools/call"}, "Mcp-Name", id="name-missing"),
        pytest.param(
            {"Mcp-Method": "tools/call", "Mcp-Name": EXECUTE, "MCP-Protocol-Version": "2025-11-25"},
            "MCP-Protocol-Version",
            id="version",
        ),
    ],
)
async def test_stateless_header_body_mismatch_is_400_before_anything_else(
    demo: RunningDemo, headers: dict[str, str], header: str
) -> None:
    async with guarded(demo) as g:
        key = await g.key("admin")
        demo.site.reset_counters()
        sent = {**JSON_HEADERS, "X-API-Key": key, "MCP-Protocol-Version": STATELESS, **headers}
        async with g.sc.http.post(
            g.mcp_url, data=json.dumps(_stateless_call(GET_POST)), headers=sent
        ) as response:
            assert response.status == 400
            body = await response.json()
    assert body["error"]["data"]["code"] == "header_mismatch"
    assert body["error"]["data"]["header"] == header
    assert body["id"] == 1
    # Neither the call nor a capability lookup reached WordPress (only the gate's entitlement probe did).
    assert [request.path for request in demo.site.requests if request.path != "/wp-json/"] == []


async def test_matching_stateless_headers_are_judged_on_the_body(demo: RunningDemo) -> None:
    async with guarded(demo) as g:
        headers = {**JSON_HEADERS, "X-API-Key": await g.key("editor"), "MCP-Protocol-Version": STATELESS}
        call_headers = {**headers, "Mcp-Method": "tools/call", "Mcp-Name": EXECUTE}
        hidden = _stateless_call(execute_params("demo/list-users"))
        async with g.sc.http.post(g.mcp_url, data=json.dumps(hidden), headers=call_headers) as response:
            assert response.status == 403
            assert (await response.json())["error"]["data"]["code"] == "insufficient_capability"
        async with g.sc.http.post(
            g.mcp_url, data=json.dumps(_stateless_call(GET_POST)), headers=call_headers
        ):
            pass  # forwarded; WordPress (handshake era only) answers as it does
    assert demo.site.tool_calls == Counter({(EXECUTE, "demo/get-post"): 1})
