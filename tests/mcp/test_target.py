"""Targets: the tool, and behind mcp-adapter's meta-tools the ability policy must decide on."""

from __future__ import annotations

import json
from typing import Any

import pytest

from proxy.mcp.jsonrpc import JsonRpcError, Message, parse_body
from proxy.mcp.target import (
    DISCOVER_ABILITIES_TOOL,
    EXECUTE_ABILITY_TOOL,
    GET_ABILITY_INFO_TOOL,
    Target,
    resolve_target,
)
from tests.mcp.payloads import execute_call


def _message(method: str, params: dict[str, Any] | None = None, *, request_id: int | None = 5) -> Message:
    value: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        value["params"] = params
    if request_id is not None:
        value["id"] = request_id
    (message,) = parse_body(json.dumps(value).encode()).messages
    return message


def _call(name: str, arguments: Any = None) -> dict[str, Any]:
    params: dict[str, Any] = {"name": name}
    if arguments is not None:
        params["arguments"] = arguments
    return params


@pytest.mark.parametrize(
    ("method", "params", "expected"),
    [
        ("tools/call", _call(DISCOVER_ABILITIES_TOOL, {}), Target("tool", DISCOVER_ABILITIES_TOOL)),
        (
            "tools/call",
            _call(EXECUTE_ABILITY_TOOL, {"ability_name": "demo/create-post", "parameters": {"title": "x"}}),
            Target("tool", EXECUTE_ABILITY_TOOL, "demo/create-post"),
        ),
        (
            "tools/call",
            _call(GET_ABILITY_INFO_TOOL, {"ability_name": "core/get-site-info"}),
            Target("tool", GET_ABILITY_INFO_TOOL, "core/get-site-info"),
        ),
        (
            "tools/call",
            _call(EXECUTE_ABILITY_TOOL, {"ability_name": "core/posts/find", "parameters": {}}),
            Target("tool", EXECUTE_ABILITY_TOOL, "core/posts/find"),
        ),
        ("tools/call", _call("wp_posts_search", {"search": "x"}), Target("tool", "wp_posts_search")),
        ("tools/call", _call("demo-create-post"), Target("tool", "demo-create-post")),
        ("resources/read", {"uri": "WordPress://site/info"}, Target("resource", "WordPress://site/info")),
        ("prompts/get", {"name": "summarize-post", "arguments": {}}, Target("prompt", "summarize-post")),
        ("tools/list", None, Target(None, None)),
        ("tools/list/all", {}, Target(None, None)),
        ("ping", None, Target(None, None)),
        ("initialize", {"protocolVersion": "2025-06-18"}, Target(None, None)),
    ],
)
def test_targets(method: str, params: dict[str, Any] | None, expected: Target) -> None:
    assert resolve_target(_message(method, params)) == expected


def test_notifications_are_resolved_too() -> None:
    message = _message(
        "tools/call", _call(EXECUTE_ABILITY_TOOL, {"ability_name": "demo/delete-post"}), request_id=None
    )
    assert message.kind == "notification"
    assert resolve_target(message).ability == "demo/delete-post"


def test_realistic_execute_call() -> None:
    (message,) = parse_body(json.dumps(execute_call(3, "demo/delete-post", {"id": 12})).encode()).messages
    target = resolve_target(message)
    assert target.subjects == (("tool", EXECUTE_ABILITY_TOOL), ("ability", "demo/delete-post"))


def test_subjects() -> None:
    assert Target(None, None).subjects == ()
    assert Target("resource", "file:///a").subjects == (("resource", "file:///a"),)


@pytest.mark.parametrize(
    ("method", "params"),
    [
        pytest.param("tools/call", {}, id="no-name"),
        pytest.param("tools/call", None, id="no-params"),
        pytest.param("tools/call", {"name": ""}, id="empty-name"),
        pytest.param("tools/call", {"name": 5}, id="name-number"),
        pytest.param("tools/call", {"name": ["x"]}, id="name-array"),
        pytest.param("tools/call", {"name": "bad name"}, id="name-space"),
        pytest.param("tools/call", {"name": "a" * 129}, id="name-too-long"),
        pytest.param("tools/call", {"name": "t\u00f6ol"}, id="name-non-ascii"),
        pytest.param("tools/call", {"name": "x", "params": {"name": "y"}}, id="nested-params"),
        pytest.param("tools/call", {"name": "x", "params": None}, id="nested-params-null"),
        pytest.param("tools/call", _call(EXECUTE_ABILITY_TOOL), id="execute-no-arguments"),
        pytest.param("tools/call", _call(EXECUTE_ABILITY_TOOL, ["demo/x"]), id="arguments-array"),
        pytest.param("tools/call", _call(EXECUTE_ABILITY_TOOL, {"parameters": {}}), id="no-ability-name"),
        pytest.param("tools/call", _call(EXECUTE_ABILITY_TOOL, {"ability_name": 3}), id="ability-number"),
        pytest.param("tools/call", _call(EXECUTE_ABILITY_TOOL, {"ability_name": ""}), id="ability-empty"),
        pytest.param(
            "tools/call", _call(EXECUTE_ABILITY_TOOL, {"ability_name": "Demo/X"}), id="ability-uppercase"
        ),
        pytest.param(
            "tools/call", _call(EXECUTE_ABILITY_TOOL, {"ability_name": " demo/x"}), id="ability-space"
        ),
        pytest.param("tools/call", _call(EXECUTE_ABILITY_TOOL, {"ability_name": "demo"}), id="ability-no-ns"),
        pytest.param(
            "tools/call", _call(EXECUTE_ABILITY_TOOL, {"ability_name": "demo//x"}), id="ability-empty-seg"
        ),
        pytest.param(
            "tools/call", _call(EXECUTE_ABILITY_TOOL, {"ability_name": "a/b/c/d/e"}), id="ability-5-segs"
        ),
        pytest.param(
            "tools/call", _call(EXECUTE_ABILITY_TOOL, {"ability_name": "demo/x\n"}), id="ability-newline"
        ),
        pytest.param("tools/call", _call(GET_ABILITY_INFO_TOOL, {}), id="info-no-ability"),
        pytest.param("resources/read", {}, id="resource-no-uri"),
        pytest.param("resources/read", {"uri": 1}, id="resource-uri-number"),
        pytest.param("resources/read", {"uri": "x" * 3000}, id="resource-uri-too-long"),
        pytest.param(
            "resources/read", {"uri": "a://b", "params": {"uri": "c://d"}}, id="resource-nested-params"
        ),
        pytest.param("prompts/get", {"name": None}, id="prompt-name-null"),
    ],
)
def test_invalid_targets(method: str, params: dict[str, Any] | None) -> None:
    with pytest.raises(JsonRpcError) as caught:
        resolve_target(_message(method, params))
    error = caught.value
    assert (error.rpc_code, error.code, error.status, error.id) == (-32602, "invalid_target", 400, 5)
    assert error.message
