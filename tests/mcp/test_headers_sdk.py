"""The header checks accept exactly what the real `mcp` SDK client sends, in both protocol eras."""

from __future__ import annotations

import pytest
from mcp import Client
from multidict import CIMultiDict

from proxy.mcp.headers import MCP_NAME, HeaderMismatch, check_headers
from proxy.mcp.jsonrpc import parse_body
from proxy.mcp.target import Target, resolve_target
from tests.mcp.sdk_server import RecordingServer


async def _session(url: str, mode: str) -> None:
    async with Client(url, mode=mode) as client:
        tools = await client.list_tools()
        assert {t.name for t in tools.tools} == {"echo", "add"}
        result = await client.call_tool("echo", {"text": "héllo wörld"})
        assert not result.is_error
        await client.read_resource("demo://greeting/ünï")


@pytest.mark.parametrize(("mode", "era"), [("2026-07-28", "stateless"), ("legacy", "handshake")])
async def test_sdk_client_traffic_passes(sdk_server: RecordingServer, mode: str, era: str) -> None:
    await _session(sdk_server.url, mode)
    targets: list[Target] = []
    for exchange in sdk_server.exchanges:
        body = parse_body(exchange.body)
        assert check_headers(body, CIMultiDict(exchange.headers)) == era
        targets.extend(resolve_target(m) for m in body.messages)
    assert ("tool", "echo") in [(t.kind, t.name) for t in targets]
    assert ("resource", "demo://greeting/ünï") in [(t.kind, t.name) for t in targets]


async def test_tampered_sdk_request_is_refused(sdk_server: RecordingServer) -> None:
    await _session(sdk_server.url, "2026-07-28")
    call = next(e for e in sdk_server.exchanges if b'"tools/call"' in e.body)
    headers = CIMultiDict((k, "add" if k.lower() == "mcp-name" else v) for k, v in call.headers)
    with pytest.raises(HeaderMismatch) as caught:
        check_headers(parse_body(call.body), headers)
    assert caught.value.header == MCP_NAME
