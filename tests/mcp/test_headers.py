"""Routing headers: the body decides; headers that disagree with it are refused."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp.shared.inbound import encode_header_value
from multidict import CIMultiDict

from proxy.mcp.headers import (
    MCP_METHOD,
    MCP_NAME,
    MCP_PROTOCOL_VERSION,
    HeaderMismatch,
    check_headers,
)
from proxy.mcp.jsonrpc import JsonRpcError, parse_body
from proxy.mcp.target import EXECUTE_ABILITY_TOOL

MODERN = "2026-07-28"
META = "io.modelcontextprotocol/protocolVersion"


def _request(
    method: str, params: dict[str, Any] | None = None, *, meta: str | None = MODERN, rid: Any = 1
) -> dict:
    params = dict(params or {})
    if meta is not None:
        params["_meta"] = {META: meta, "io.modelcontextprotocol/clientCapabilities": {}}
    value: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
    if rid is not None:
        value["id"] = rid
    return value


CALL = _request(
    "tools/call", {"name": EXECUTE_ABILITY_TOOL, "arguments": {"ability_name": "demo/create-post"}}
)
CALL_HEADERS = {MCP_PROTOCOL_VERSION: MODERN, MCP_METHOD: "tools/call", MCP_NAME: EXECUTE_ABILITY_TOOL}


def _check(body: Any, headers: dict[str, str] | list[tuple[str, str]]) -> str:
    return check_headers(parse_body(json.dumps(body).encode()), CIMultiDict(headers))


@pytest.mark.parametrize(
    ("body", "headers", "era"),
    [
        pytest.param(_request("tools/list", meta=None), {}, "handshake", id="handshake-no-headers"),
        pytest.param(
            _request("tools/list", meta=None),
            {MCP_PROTOCOL_VERSION: "2025-06-18"},
            "handshake",
            id="handshake-version",
        ),
        pytest.param(
            [_request("ping", meta=None), _request("tools/list", meta=None, rid=2)],
            {MCP_PROTOCOL_VERSION: "2025-11-25"},
            "handshake",
            id="handshake-batch",
        ),
        pytest.param(
            _request("tools/list", meta=None),
            {MCP_PROTOCOL_VERSION: "2025-06-18", MCP_METHOD: "tools/list"},
            "handshake",
            id="handshake-with-method-header-as-mcp-remote-sends",
        ),
        pytest.param(CALL, CALL_HEADERS, "stateless", id="stateless-call"),
        pytest.param(
            CALL,
            {k.lower(): v for k, v in CALL_HEADERS.items()},
            "stateless",
            id="lowercase-header-names",
        ),
        pytest.param(
            _request("tools/list"),
            {MCP_PROTOCOL_VERSION: MODERN, MCP_METHOD: "tools/list"},
            "stateless",
            id="list",
        ),
        pytest.param(
            _request("resources/read", {"uri": "wp://posts/é 1"}),
            {
                MCP_PROTOCOL_VERSION: MODERN,
                MCP_METHOD: "resources/read",
                MCP_NAME: encode_header_value("wp://posts/é 1"),
            },
            "stateless",
            id="base64-name",
        ),
        pytest.param(
            _request("notifications/cancelled", {"requestId": 1}, meta=None, rid=None),
            {MCP_PROTOCOL_VERSION: MODERN},
            "stateless",
            id="notification-needs-no-method",
        ),
        pytest.param(
            _request("tools/call", {}),
            {MCP_PROTOCOL_VERSION: MODERN, MCP_METHOD: "tools/call"},
            "stateless",
            id="no-name-anywhere-left-to-target",
        ),
    ],
)
def test_accepted(body: Any, headers: dict[str, str], era: str) -> None:
    assert _check(body, headers) == era


@pytest.mark.parametrize(
    ("body", "headers", "header", "mentions"),
    [
        pytest.param(
            CALL,
            {**CALL_HEADERS, MCP_METHOD: "tools/list"},
            MCP_METHOD,
            ["'tools/list'", "'tools/call'"],
            id="method",
        ),
        pytest.param(
            CALL,
            {**CALL_HEADERS, MCP_NAME: "mcp-adapter-discover-abilities"},
            MCP_NAME,
            ["'mcp-adapter-discover-abilities'", f"'{EXECUTE_ABILITY_TOOL}'"],
            id="name",
        ),
        pytest.param(
            CALL,
            {**CALL_HEADERS, MCP_PROTOCOL_VERSION: "2025-11-25"},
            MCP_PROTOCOL_VERSION,
            ["2025-11-25"],
            id="version",
        ),
        pytest.param(
            CALL,
            {MCP_PROTOCOL_VERSION: MODERN, MCP_METHOD: "tools/call"},
            MCP_NAME,
            ["missing", EXECUTE_ABILITY_TOOL],
            id="stateless-name-missing",
        ),
        pytest.param(
            CALL,
            {MCP_PROTOCOL_VERSION: MODERN, MCP_NAME: EXECUTE_ABILITY_TOOL},
            MCP_METHOD,
            ["missing"],
            id="stateless-method-missing",
        ),
        pytest.param(
            CALL,
            {MCP_METHOD: "tools/call", MCP_NAME: EXECUTE_ABILITY_TOOL},
            MCP_PROTOCOL_VERSION,
            [MODERN],
            id="version-missing-but-meta",
        ),
        pytest.param(
            _request("tools/list", meta=None),
            {MCP_PROTOCOL_VERSION: MODERN, MCP_METHOD: "tools/list"},
            MCP_PROTOCOL_VERSION,
            ["no params._meta"],
            id="stateless-meta-missing",
        ),
        pytest.param(
            _request("tools/call", {"name": "a"}, meta=None),
            {MCP_NAME: "b"},
            MCP_NAME,
            ["'b'", "'a'"],
            id="handshake-name-present-disagrees",
        ),
        pytest.param(
            _request("tools/list", meta=None),
            {MCP_NAME: "x"},
            MCP_NAME,
            ["names no target"],
            id="name-on-list",
        ),
        pytest.param(
            {"jsonrpc": "2.0", "id": 1, "result": {}},
            {MCP_METHOD: "tools/list"},
            MCP_METHOD,
            ["no method"],
            id="method-on-response",
        ),
        pytest.param(
            [_request("ping", meta=None), _request("tools/list", meta=None, rid=2)],
            {MCP_METHOD: "ping"},
            MCP_METHOD,
            ["batch of 2"],
            id="batch-with-method",
        ),
        pytest.param(
            [_request("ping"), _request("tools/list", rid=2)],
            {MCP_PROTOCOL_VERSION: MODERN},
            MCP_PROTOCOL_VERSION,
            ["no batches"],
            id="batch-stateless",
        ),
        pytest.param(
            [_request("ping", meta=None), _request("tools/list", meta=None, rid=2)],
            {MCP_NAME: "x"},
            MCP_NAME,
            ["batch of 2"],
            id="batch-with-name",
        ),
        pytest.param(
            CALL,
            [*CALL_HEADERS.items(), (MCP_METHOD, "tools/call")],
            MCP_METHOD,
            ["more than once"],
            id="dup-method",
        ),
        pytest.param(
            CALL,
            [*CALL_HEADERS.items(), ("mcp-name", "other")],
            MCP_NAME,
            ["more than once"],
            id="dup-name-case",
        ),
        pytest.param(
            CALL, {**CALL_HEADERS, MCP_NAME: "=?base64?!!!?="}, MCP_NAME, ["malformed"], id="bad-base64-name"
        ),
        pytest.param(
            CALL,
            {**CALL_HEADERS, MCP_NAME: encode_header_value("mcp-adapter-get-ability-info")},
            MCP_NAME,
            ["get-ability-info"],
            id="encoded-but-different",
        ),
    ],
)
def test_mismatches(body: Any, headers: Any, header: str, mentions: list[str]) -> None:
    with pytest.raises(HeaderMismatch) as caught:
        _check(body, headers)
    error = caught.value
    assert (error.status, error.code, error.rpc_code, error.header) == (
        400,
        "header_mismatch",
        -32020,
        header,
    )
    assert header in error.message
    for text in mentions:
        assert text in error.message


def test_mismatch_answers_the_request_id() -> None:
    with pytest.raises(HeaderMismatch) as caught:
        _check(CALL | {"id": "req-9"}, {**CALL_HEADERS, MCP_METHOD: "ping"})
    assert caught.value.id == "req-9"


@pytest.mark.parametrize(
    "version", ["latest", "2025-6-18", "2025-06-18 ", "", "20250618", "2025-06-18T00:00"]
)
def test_invalid_protocol_version(version: str) -> None:
    with pytest.raises(JsonRpcError) as caught:
        _check(_request("ping", meta=None), {MCP_PROTOCOL_VERSION: version})
    assert (caught.value.status, caught.value.code) == (400, "invalid_protocol_version")
