"""JSON-RPC bodies: parsed once, strictly; every malformed class refused with its code and reason."""

from __future__ import annotations

import json
from typing import Any

import pytest

from proxy.mcp.jsonrpc import JsonRpcError, error_response, parse_body


def _body(value: Any) -> bytes:
    return json.dumps(value).encode()


PING = {"jsonrpc": "2.0", "id": 1, "method": "ping"}


@pytest.mark.parametrize(
    ("body", "rpc_code", "reason"),
    [
        pytest.param(b"\xff\xfe{}", -32700, "not_utf8", id="not-utf8"),
        pytest.param(b'{"jsonrpc":"2.0","id":1,"method":"tools/list', -32700, "invalid_json", id="truncated"),
        pytest.param(b"", -32700, "invalid_json", id="empty-body"),
        pytest.param(
            b'{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/call"}',
            -32700,
            "duplicate_key",
            id="duplicate-method",
        ),
        pytest.param(b"[" * 10_000 + b"]" * 10_000, -32700, "too_deep", id="10k-deep"),
        pytest.param(
            _body({**PING, "params": {"a": json.loads("[" * 62 + "]" * 62)}}), None, None, id="depth-64-ok"
        ),
        pytest.param(
            _body({**PING, "params": {"a": json.loads("[" * 63 + "]" * 63)}}),
            -32700,
            "too_deep",
            id="depth-65",
        ),
        pytest.param(b"1", -32600, "not_a_message", id="number"),
        pytest.param(b'"tools/call"', -32600, "not_a_message", id="string"),
        pytest.param(b"null", -32600, "not_a_message", id="null"),
        pytest.param(b"true", -32600, "not_a_message", id="bool"),
        pytest.param(b"[]", -32600, "empty_batch", id="empty-batch"),
        pytest.param(
            _body([PING | {"id": i} for i in range(51)]), -32600, "batch_too_large", id="batch-too-large"
        ),
        pytest.param(b"[1,2,3]", -32600, "invalid_message", id="array-of-numbers"),
        pytest.param(_body([PING, "ping"]), -32600, "invalid_message", id="member-not-object"),
        pytest.param(_body({"id": 1, "method": "ping"}), -32600, "invalid_message", id="missing-jsonrpc"),
        pytest.param(_body({**PING, "jsonrpc": "1.0"}), -32600, "invalid_message", id="jsonrpc-1.0"),
        pytest.param(_body({**PING, "jsonrpc": 2.0}), -32600, "invalid_message", id="jsonrpc-number"),
        pytest.param(_body({**PING, "method": 5}), -32600, "invalid_message", id="method-number"),
        pytest.param(_body({**PING, "method": ""}), -32600, "invalid_message", id="method-empty"),
        pytest.param(_body({**PING, "method": None}), -32600, "invalid_message", id="method-null"),
        pytest.param(_body({**PING, "result": {}}), -32600, "invalid_message", id="method-and-result"),
        pytest.param(_body({"jsonrpc": "2.0"}), -32600, "invalid_message", id="neither-method-nor-id"),
        pytest.param(
            _body({"jsonrpc": "2.0", "id": 1}), -32600, "invalid_message", id="response-without-result"
        ),
        pytest.param(
            _body({"jsonrpc": "2.0", "id": 1, "result": {}, "error": {"code": 1, "message": "x"}}),
            -32600,
            "invalid_message",
            id="result-and-error",
        ),
        pytest.param(
            _body({"jsonrpc": "2.0", "id": 1, "error": "boom"}),
            -32600,
            "invalid_message",
            id="error-not-object",
        ),
        pytest.param(_body({**PING, "params": [1, 2]}), -32600, "invalid_params", id="params-array"),
        pytest.param(_body({**PING, "params": "x"}), -32600, "invalid_params", id="params-string"),
        pytest.param(_body({**PING, "params": 5}), -32600, "invalid_params", id="params-number"),
        pytest.param(_body({**PING, "id": 1.5}), -32600, "invalid_id", id="id-float"),
        pytest.param(_body({**PING, "id": True}), -32600, "invalid_id", id="id-bool"),
        pytest.param(_body({**PING, "id": None}), -32600, "invalid_id", id="id-null-request"),
        pytest.param(_body({**PING, "id": {"a": 1}}), -32600, "invalid_id", id="id-object"),
        pytest.param(_body({**PING, "id": [1]}), -32600, "invalid_id", id="id-array"),
        pytest.param(
            _body({"jsonrpc": "2.0", "id": None, "result": {}}), -32600, "invalid_id", id="id-null-result"
        ),
        pytest.param(
            _body([PING, {**PING, "method": "tools/list"}]), -32600, "duplicate_id", id="duplicate-id"
        ),
    ],
)
def test_malformed_bodies(body: bytes, rpc_code: int | None, reason: str | None) -> None:
    if rpc_code is None:
        parse_body(body)
        return
    with pytest.raises(JsonRpcError) as caught:
        parse_body(body)
    error = caught.value
    assert (error.rpc_code, error.code, error.status) == (rpc_code, reason, 400)
    assert error.message


def test_error_keeps_a_readable_id() -> None:
    with pytest.raises(JsonRpcError) as caught:
        parse_body(_body({**PING, "id": "abc", "params": [1]}))
    assert caught.value.id == "abc"
    with pytest.raises(JsonRpcError) as caught:
        parse_body(_body({**PING, "id": 1.5}))
    assert caught.value.id is None


def test_single_request() -> None:
    body = parse_body(
        _body({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "x", "arguments": {}}})
    )
    assert not body.batch
    (message,) = body.messages
    assert (message.kind, message.id, message.method) == ("request", 7, "tools/call")
    assert message.params == {"name": "x", "arguments": {}}
    assert message.raw["params"] is message.params
    assert body.requests == (message,)


@pytest.mark.parametrize(
    ("value", "kind", "message_id", "method"),
    [
        (
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            "notification",
            None,
            "notifications/initialized",
        ),
        ({"jsonrpc": "2.0", "id": "s-1", "result": {}}, "response", "s-1", None),
        (
            {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "Parse error"}},
            "response",
            None,
            None,
        ),
        ({"jsonrpc": "2.0", "id": 0, "method": "ping", "params": None}, "request", 0, "ping"),
        ({"jsonrpc": "2.0", "id": -3, "method": "ping", "extra": True}, "request", -3, "ping"),
    ],
)
def test_message_kinds(value: dict[str, Any], kind: str, message_id: Any, method: str | None) -> None:
    (message,) = parse_body(_body(value)).messages
    assert (message.kind, message.id, message.method) == (kind, message_id, method)
    assert message.params == {}


def test_batch_keeps_order_and_allows_same_number_as_string() -> None:
    body = parse_body(
        _body(
            [
                {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                {"jsonrpc": "2.0", "id": "1", "method": "ping"},
                {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 9}},
                {"jsonrpc": "2.0", "id": 9, "result": {}},
            ]
        )
    )
    assert body.batch
    assert [m.kind for m in body.messages] == ["request", "request", "notification", "response"]
    assert [m.id for m in body.requests] == [1, "1"]


def test_batch_limit_is_configurable() -> None:
    body = _body([PING | {"id": i} for i in range(3)])
    assert len(parse_body(body, max_batch=3).messages) == 3
    with pytest.raises(JsonRpcError):
        parse_body(body, max_batch=2)


def test_error_response() -> None:
    assert error_response(None, -32700, "Parse error") == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32700, "message": "Parse error"},
    }
    assert error_response("a", -32602, "bad", {"field": "name"})["error"]["data"] == {"field": "name"}
