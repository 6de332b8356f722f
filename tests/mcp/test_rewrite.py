"""Rewriting: tool lists and discovered abilities lose what a principal may not see; nothing else changes."""

from __future__ import annotations

import gc
import json
import weakref
from collections.abc import AsyncIterator
from typing import Any

import pytest
from mcp import Client

from proxy.mcp.jsonrpc import parse_body
from proxy.mcp.rewrite import ResponseRewriter, filter_discovered_abilities, filter_tools_list
from proxy.mcp.sse import SseParser, rewrite_sse
from proxy.mcp.target import DISCOVER_ABILITIES_TOOL, EXECUTE_ABILITY_TOOL, GET_ABILITY_INFO_TOOL
from tests.mcp.payloads import (
    ABILITIES,
    discover_result,
    discover_text,
    execute_call,
    response,
    tools_list_result,
)
from tests.mcp.sdk_server import RecordingServer

VISIBLE_TOOLS = {DISCOVER_ABILITIES_TOOL, EXECUTE_ABILITY_TOOL}
VISIBLE_ABILITIES = {"core/get-site-info", "demo/create-post"}


def visible_tool(name: str) -> bool:
    return name in VISIBLE_TOOLS


def visible_ability(name: str) -> bool:
    return name in VISIBLE_ABILITIES


def _names(entries: list[dict[str, Any]]) -> list[str]:
    return [e["name"] for e in entries]


def _rewriter(*requests: dict[str, Any]) -> ResponseRewriter:
    value: Any = list(requests) if len(requests) > 1 else requests[0]
    body = parse_body(json.dumps(value).encode())
    return ResponseRewriter(body, visible_tool=visible_tool, visible_ability=visible_ability)


LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
LIST_ALL = {"jsonrpc": "2.0", "id": 4, "method": "tools/list/all"}
DISCOVER = {"jsonrpc": "2.0", "id": "d", "method": "tools/call", "params": {"name": DISCOVER_ABILITIES_TOOL}}
PING = {"jsonrpc": "2.0", "id": 2, "method": "ping"}


def test_a_rewriter_is_freed_at_once_not_by_the_cyclic_gc() -> None:
    """One is built per filtered request: a reference cycle would leave it to the GC."""
    rewriter = _rewriter(LIST, DISCOVER)
    assert rewriter.active
    gone = weakref.ref(rewriter)
    gc.disable()
    try:
        del rewriter
        assert gone() is None
    finally:
        gc.enable()


# --- the filters -------------------------------------------------------------------------------------


@pytest.mark.parametrize("all_variant", [False, True])
def test_filter_tools_list(all_variant: bool) -> None:
    result = tools_list_result(all_variant=all_variant)
    filtered = filter_tools_list(result, visible_tool)
    assert _names(filtered["tools"]) == [DISCOVER_ABILITIES_TOOL, EXECUTE_ABILITY_TOOL]
    assert filtered["tools"][1] == result["tools"][2]
    assert len(result["tools"]) == 3  # the input is not modified


def test_filter_tools_list_fails_closed_and_keeps_other_keys() -> None:
    result = {
        "tools": [{"name": DISCOVER_ABILITIES_TOOL}, {"title": "no name"}, "junk", {"name": 5}],
        "nextCursor": "abc",
        "cacheScope": "public",
        "ttlMs": 60000,
    }
    assert filter_tools_list(result, visible_tool) == {
        "tools": [{"name": DISCOVER_ABILITIES_TOOL}],
        "nextCursor": "abc",
        "cacheScope": "private",
        "ttlMs": 60000,
    }
    assert filter_tools_list({"tools": "nope"}, visible_tool) == {"tools": []}
    assert filter_tools_list({}, visible_tool) == {"tools": []}


def test_filter_discovered_abilities() -> None:
    filtered = filter_discovered_abilities(discover_result(), visible_ability)
    assert _names(filtered["structuredContent"]["abilities"]) == ["core/get-site-info", "demo/create-post"]
    (item,) = filtered["content"]
    assert item["type"] == "text"
    assert json.loads(item["text"]) == filtered["structuredContent"]
    assert filtered["isError"] is False
    assert len(discover_result()["structuredContent"]["abilities"]) == len(ABILITIES)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("Here are the abilities: core/get-user-info, demo/delete-post", id="prose"),
        pytest.param('{"items": [{"name": "demo/delete-post"}]}', id="json-without-abilities"),
        pytest.param('[{"name": "demo/delete-post"}]', id="json-array"),
        pytest.param('{"abilities": "demo/delete-post"}', id="abilities-not-a-list"),
    ],
)
def test_unreadable_text_is_replaced_by_the_filtered_list(text: str) -> None:
    result = discover_result()
    result["content"] = [{"type": "text", "text": text}]
    (item,) = filter_discovered_abilities(result, visible_ability)["content"]
    assert json.loads(item["text"]) == {"abilities": [a for a in ABILITIES if a["name"] in VISIBLE_ABILITIES]}


def test_discover_without_structured_content_and_other_content() -> None:
    image = {"type": "image", "data": "iVBORw0KGgo=", "mimeType": "image/png"}
    result = {
        "content": [{"type": "text", "text": discover_text(ABILITIES)}, image, {"type": "text", "text": "?"}]
    }
    filtered = filter_discovered_abilities(result, visible_ability)
    assert "structuredContent" not in filtered
    first, second, third = filtered["content"]
    assert _names(json.loads(first["text"])["abilities"]) == ["core/get-site-info", "demo/create-post"]
    assert second == image
    assert json.loads(third["text"]) == {"abilities": []}


def test_discover_error_result_is_untouched() -> None:
    refused = {"content": [{"type": "text", "text": "Permission denied"}], "isError": True}
    assert filter_discovered_abilities(refused, visible_ability) is refused


def test_discover_with_malformed_structured_content() -> None:
    result = {"content": [], "structuredContent": ["demo/delete-post"]}
    assert filter_discovered_abilities(result, visible_ability)["structuredContent"] == {"abilities": []}


# --- the rewriter: JSON bodies -----------------------------------------------------------------------


def test_single_tools_list_body() -> None:
    rewriter = _rewriter(LIST)
    assert rewriter.active
    out = rewriter.rewrite_body(json.dumps(response(1, tools_list_result())).encode())
    assert out is not None
    message = json.loads(out)
    assert message["id"] == 1
    assert _names(message["result"]["tools"]) == [DISCOVER_ABILITIES_TOOL, EXECUTE_ABILITY_TOOL]


def test_single_discover_body_in_wordpress_encoding() -> None:
    original = json.dumps(response("d", discover_result())).replace("/", "\\/").encode()
    out = _rewriter(DISCOVER).rewrite_body(original)
    assert out is not None
    result = json.loads(out)["result"]
    assert _names(result["structuredContent"]["abilities"]) == sorted(VISIBLE_ABILITIES)
    assert _names(json.loads(result["content"][0]["text"])["abilities"]) == sorted(VISIBLE_ABILITIES)


@pytest.mark.parametrize(
    ("requests", "body"),
    [
        pytest.param([PING], response(2, {}), id="ping-not-watched"),
        pytest.param(
            [execute_call(3, "demo/create-post")], response(3, {"content": []}), id="execute-not-watched"
        ),
        pytest.param(
            [{"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": GET_ABILITY_INFO_TOOL}}],
            response(3, {"name": "demo/delete-post"}),
            id="ability-info-not-watched",
        ),
    ],
)
def test_unwatched_requests_make_an_inactive_rewriter(requests: list[dict[str, Any]], body: Any) -> None:
    rewriter = _rewriter(*requests)
    assert not rewriter.active
    assert rewriter.rewrite_body(json.dumps(body).encode()) is None


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(response(2, tools_list_result()), id="other-id"),
        pytest.param(response("1", tools_list_result()), id="same-number-as-string"),
        pytest.param({"jsonrpc": "2.0", "id": 1, "error": {"code": -32603, "message": "x"}}, id="error"),
        pytest.param(response(1, {"tools": [{"name": DISCOVER_ABILITIES_TOOL}]}), id="nothing-hidden"),
        pytest.param({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, id="a-request"),
        pytest.param(
            {"code": "rest_forbidden", "message": "Sorry", "data": {"status": 401}}, id="rest-error"
        ),
        pytest.param(17, id="json-number"),
    ],
)
def test_bodies_left_untouched(body: Any) -> None:
    assert _rewriter(LIST).rewrite_body(json.dumps(body).encode()) is None


def test_unparseable_body_is_left_to_the_client() -> None:
    assert _rewriter(LIST).rewrite_body(b"<html>Fatal error</html>") is None


def test_non_object_result_fails_closed() -> None:
    rewritten = _rewriter(LIST).rewrite_message({"jsonrpc": "2.0", "id": 1, "result": None})
    assert rewritten == {"jsonrpc": "2.0", "id": 1, "result": {"tools": []}}


def test_batch_body() -> None:
    rewriter = _rewriter(LIST, PING, DISCOVER, LIST_ALL)
    answers = [
        response(1, tools_list_result()),
        response(2, {}),
        response("d", discover_result()),
        response(4, tools_list_result(all_variant=True)),
    ]
    out = rewriter.rewrite_body(json.dumps(answers).encode())
    assert out is not None
    listed, pong, discovered, listed_all = json.loads(out)
    assert _names(listed["result"]["tools"]) == [DISCOVER_ABILITIES_TOOL, EXECUTE_ABILITY_TOOL]
    assert pong == answers[1]
    assert _names(discovered["result"]["structuredContent"]["abilities"]) == sorted(VISIBLE_ABILITIES)
    assert all(t["available"] for t in listed_all["result"]["tools"])
    assert _names(listed_all["result"]["tools"]) == [DISCOVER_ABILITIES_TOOL, EXECUTE_ABILITY_TOOL]


def test_batch_with_nothing_to_change() -> None:
    answers = [response(2, {}), response(1, {"tools": []})]
    assert _rewriter(LIST, PING).rewrite_body(json.dumps(answers).encode()) is None


# --- the rewriter: SSE-framed answers ------------------------------------------------------------------


async def _stream(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _sse(*messages: dict[str, Any]) -> bytes:
    return b"".join(b"event: message\r\ndata: " + json.dumps(m).encode() + b"\r\n\r\n" for m in messages)


@pytest.mark.parametrize("chunk_size", [1, 7, 4096])
async def test_sse_framed_answers(chunk_size: int) -> None:
    rewriter = _rewriter(LIST, DISCOVER)
    progress = {
        "jsonrpc": "2.0",
        "method": "notifications/progress",
        "params": {"progressToken": 1, "progress": 1},
    }
    stream = b": ping\r\n\r\n" + _sse(
        progress, response(1, tools_list_result()), response("d", discover_result())
    )
    out = b"".join([p async for p in rewrite_sse(_stream(stream, chunk_size), rewriter.rewrite_message)])
    events = SseParser().feed(out)
    assert [e.raw for e in events[:2]] == [b": ping\r\n\r\n", _sse(progress)]
    listed = json.loads(events[2].data or "")
    discovered = json.loads(events[3].data or "")
    assert events[2].event == "message"
    assert _names(listed["result"]["tools"]) == [DISCOVER_ABILITIES_TOOL, EXECUTE_ABILITY_TOOL]
    assert _names(discovered["result"]["structuredContent"]["abilities"]) == sorted(VISIBLE_ABILITIES)


# --- real SDK answers ----------------------------------------------------------------------------------


async def test_real_sdk_answers(sdk_server: RecordingServer) -> None:
    """Legacy era: the SDK answers over SSE; stateless era: JSON with cacheScope. Both get filtered."""
    for mode in ("legacy", "2026-07-28"):
        async with Client(sdk_server.url, mode=mode) as client:
            await client.list_tools()
    answers = [e for e in sdk_server.exchanges if b'"tools/list"' in e.body]
    assert [a.content_type.split(";")[0] for a in answers] == ["text/event-stream", "application/json"]

    def only_echo(name: str) -> bool:
        return name == "echo"

    legacy, modern = answers
    rewriter = ResponseRewriter(
        parse_body(legacy.body), visible_tool=only_echo, visible_ability=visible_ability
    )
    out = b"".join([p async for p in rewrite_sse(_stream(legacy.response, 5), rewriter.rewrite_message)])
    (event,) = SseParser().feed(out)
    assert _names(json.loads(event.data or "")["result"]["tools"]) == ["echo"]

    rewriter = ResponseRewriter(
        parse_body(modern.body), visible_tool=only_echo, visible_ability=visible_ability
    )
    body = rewriter.rewrite_body(modern.response)
    assert body is not None
    result = json.loads(body)["result"]
    assert (_names(result["tools"]), result["cacheScope"]) == (["echo"], "private")
