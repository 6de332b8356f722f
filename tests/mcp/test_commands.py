"""Command envelopes `{command, params, requestId}`: strict, with stable error codes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from proxy.mcp.commands import CommandError, envelope_error, parse_command


def _body(value: Any) -> bytes:
    return json.dumps(value).encode()


@pytest.mark.parametrize(
    ("body", "code", "request_id"),
    [
        pytest.param(b"\xc3\x28", "not_utf8", None, id="not-utf8"),
        pytest.param(b'{"command": "searchPosts"', "invalid_json", None, id="truncated"),
        pytest.param(
            b'{"command":"searchPosts","command":"deletePost"}', "duplicate_key", None, id="duplicate"
        ),
        pytest.param(b'{"params":' * 10_000, "too_deep", None, id="10k-deep"),
        pytest.param(b"[1,2]", "invalid_request", None, id="array-of-numbers"),
        pytest.param(b'"searchPosts"', "invalid_request", None, id="string"),
        pytest.param(b"null", "invalid_request", None, id="null"),
        pytest.param(_body({"params": {}}), "missing_command", None, id="no-command"),
        pytest.param(_body({"command": "", "requestId": "r1"}), "missing_command", "r1", id="empty-command"),
        pytest.param(_body({"command": None}), "missing_command", None, id="null-command"),
        pytest.param(_body({"command": 5, "requestId": 3}), "invalid_request", 3, id="command-number"),
        pytest.param(_body({"command": ["searchPosts"]}), "invalid_request", None, id="command-array"),
        pytest.param(_body({"command": " searchPosts"}), "invalid_request", None, id="command-edge-space"),
        pytest.param(_body({"command": "search\nPosts"}), "invalid_request", None, id="command-newline"),
        pytest.param(_body({"command": "x" * 129}), "invalid_request", None, id="command-too-long"),
        pytest.param(
            _body({"command": "searchPosts", "params": [1]}), "invalid_request", None, id="params-array"
        ),
        pytest.param(
            _body({"command": "searchPosts", "params": "q"}), "invalid_request", None, id="params-string"
        ),
        pytest.param(
            _body({"command": "searchPosts", "requestId": 1.5}), "invalid_request", None, id="id-float"
        ),
        pytest.param(
            _body({"command": "searchPosts", "requestId": True}), "invalid_request", None, id="id-bool"
        ),
        pytest.param(
            _body({"command": "searchPosts", "requestId": {}}), "invalid_request", None, id="id-object"
        ),
    ],
)
def test_refusals(body: bytes, code: str, request_id: Any) -> None:
    with pytest.raises(CommandError) as caught:
        parse_command(body)
    error = caught.value
    assert (error.status, error.code, error.request_id) == (400, code, request_id)
    assert error.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            {"command": "searchPosts", "params": {"query": "moon", "limit": 2}, "requestId": "corr-1"},
            ("searchPosts", {"query": "moon", "limit": 2}, "corr-1"),
        ),
        ({"command": "health"}, ("health", {}, None)),
        ({"command": "getPost", "params": None, "requestId": 42}, ("getPost", {}, 42)),
    ],
)
def test_valid(value: dict[str, Any], expected: tuple[Any, ...]) -> None:
    envelope = parse_command(_body(value))
    assert (envelope.command, dict(envelope.params), envelope.request_id) == expected


def test_envelope_error() -> None:
    assert envelope_error("rate_limited", "Rate limit exceeded", "corr-1") == {
        "success": False,
        "error": {"code": "rate_limited", "message": "Rate limit exceeded"},
        "requestId": "corr-1",
        "data": None,
    }
