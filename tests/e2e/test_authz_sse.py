"""Filtering SSE-framed MCP answers: event by event, everything else in the stream kept verbatim.

mcp-adapter answers JSON only, but other MCP servers (and future plugin versions) answer POSTs with
`text/event-stream`; tools/list and discover-abilities must be filtered there too, without buffering
the stream. An answer the sidecar must filter but cannot read is never relayed.
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from proxy.demo import DEMO_MCP_PATH
from tests.e2e.authz_support import (
    META_TOOLS,
    Agent,
    FakeWordPress,
    Guarded,
    discover_params,
    execute_params,
    fake_wordpress,
    guarded,
)

TOOLS = [{"name": name, "inputSchema": {"type": "object"}} for name in [*sorted(META_TOOLS), "rogue-tool"]]
ABILITIES = ["demo/get-post", "demo/create-post", "demo/list-users", "demo/update-settings", "other/secret"]
OPENING = [b": stream opened\n\n", b"retry: 2500\n\n"]


def _result(message: dict[str, Any]) -> dict[str, Any]:
    if message["method"] == "tools/list":
        return {"tools": TOOLS}
    if message["params"]["name"] == "mcp-adapter-discover-abilities":
        listed = {"abilities": [{"name": name, "label": name} for name in ABILITIES]}
        return {"content": [{"type": "text", "text": json.dumps(listed)}], "structuredContent": listed}
    return {"content": [{"type": "text", "text": "done"}], "isError": False}


def progress_event(message_id: Any) -> bytes:
    note = {"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": message_id}}
    return f"id: progress-{message_id}\nevent: message\ndata: {json.dumps(note)}\n\n".encode()


@dataclass
class SseServer:
    """Answers every request of a POST in one event stream; holds each answer until `release`."""

    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def mcp(self, request: web.Request, body: Any) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for opening in OPENING:
            await response.write(opening)
        for message in body if isinstance(body, list) else [body]:
            await response.write(progress_event(message["id"]))
            await self.release.wait()
            answer = {"jsonrpc": "2.0", "id": message["id"], "result": _result(message)}
            await response.write(f"id: answer-{message['id']}\ndata: {json.dumps(answer)}\n\n".encode())
        await response.write_eof()
        return response


@asynccontextmanager
async def sse_site() -> AsyncIterator[tuple[SseServer, FakeWordPress, Guarded, Agent]]:
    server = SseServer()
    async with fake_wordpress({DEMO_MCP_PATH: server.mcp}) as wordpress, guarded(wordpress.url) as g:
        yield server, wordpress, g, g.agent(await g.key("editor"))


async def read_event(response: aiohttp.ClientResponse) -> bytes:
    return await asyncio.wait_for(response.content.readuntil(b"\n\n"), 5)


def event_data(event: bytes) -> Any:
    lines = event.decode().splitlines()
    return json.loads("\n".join(line.removeprefix("data: ") for line in lines if line.startswith("data: ")))


def request(id_: Any, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": id_, "method": method, **({"params": params} if params else {})}


async def test_tools_list_over_sse_is_filtered_event_by_event() -> None:
    async with sse_site() as (server, _, g, agent):
        body = json.dumps(request(1, "tools/list"))
        async with g.sc.http.post(agent.url, data=body, headers=agent.headers()) as response:
            assert response.headers["Content-Type"].startswith("text/event-stream")
            assert response.headers["Cache-Control"] == "no-cache"
            assert response.headers["X-Accel-Buffering"] == "no"
            # Relayed while WordPress still holds the answer back: nothing is buffered.
            head = [await read_event(response) for _ in range(3)]
            server.release.set()
            answer = await read_event(response)
            assert await response.content.read() == b""
    assert head == [*OPENING, progress_event(1)]  # comments, retry and ids verbatim
    assert answer.startswith(b"id: answer-1\ndata: ")
    assert {tool["name"] for tool in event_data(answer)["result"]["tools"]} == META_TOOLS


async def test_discovered_abilities_over_sse_are_filtered() -> None:
    async with sse_site() as (server, _, g, agent):
        server.release.set()
        body = json.dumps(request("d", "tools/call", discover_params()))
        async with g.sc.http.post(agent.url, data=body, headers=agent.headers()) as response:
            events = (await response.content.read()).split(b"\n\n")
    result = event_data(events[3])["result"]
    visible = {"demo/get-post", "demo/create-post"}
    assert {a["name"] for a in result["structuredContent"]["abilities"]} == visible
    assert {a["name"] for a in json.loads(result["content"][0]["text"])["abilities"]} == visible


async def test_batch_over_sse_merges_the_sidecars_refusals() -> None:
    batch = [
        request(1, "tools/list"),
        request(2, "tools/call", execute_params("demo/list-users")),
        request(3, "tools/call", execute_params("demo/get-post", {"id": 1})),
    ]
    async with sse_site() as (server, wordpress, g, agent):
        server.release.set()
        async with g.sc.http.post(agent.url, data=json.dumps(batch), headers=agent.headers()) as response:
            assert response.status == 200
            events = [event + b"\n\n" for event in (await response.content.read()).split(b"\n\n") if event]
    [forwarded] = wordpress.bodies(DEMO_MCP_PATH)
    assert [message["id"] for message in forwarded] == [1, 3]
    answers = [event_data(event) for event in events[2:] if b"progress" not in event]
    assert [answer["id"] for answer in answers] == [1, 3, 2]
    assert {tool["name"] for tool in answers[0]["result"]["tools"]} == META_TOOLS
    assert answers[2]["error"]["data"]["code"] == "insufficient_capability"


async def _gzipped(request: web.Request, body: Any) -> web.StreamResponse:
    """An upstream that compresses whatever the client asked for (a misconfigured cache, say)."""
    answer = {"jsonrpc": "2.0", "id": body["id"], "result": {"tools": TOOLS}}
    return web.Response(
        body=gzip.compress(json.dumps(answer).encode()),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )


async def test_an_answer_that_cannot_be_read_is_not_relayed() -> None:
    async with fake_wordpress({DEMO_MCP_PATH: _gzipped}) as wordpress, guarded(wordpress.url) as g:
        agent = g.agent(await g.key("editor"))
        reply = await agent.post(request(1, "tools/list"), headers={"Accept-Encoding": "gzip, br"})
    assert reply.status == 200
    assert "Content-Encoding" not in reply.headers
    assert reply.body["error"]["code"] == -32603
    assert "gzip-encoded" in reply.body["error"]["message"]
    [(_, headers, _)] = [seen for seen in wordpress.seen if seen[0] == DEMO_MCP_PATH]
    assert headers["accept-encoding"] == "identity"


async def _oversized(request: web.Request, body: Any) -> web.StreamResponse:
    """An event stream whose second event never ends within the sidecar's 8 MiB event limit."""
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    await response.write(OPENING[0])
    await response.write(b"data: " + b"x" * (9 * 1024 * 1024))
    await response.write_eof()
    return response


async def test_an_oversized_event_mid_stream_cuts_the_connection() -> None:
    async with fake_wordpress({DEMO_MCP_PATH: _oversized}) as wordpress, guarded(wordpress.url) as g:
        agent = g.agent(await g.key("editor"))
        body = json.dumps(request(1, "tools/list"))
        async with g.sc.http.post(agent.url, data=body, headers=agent.headers()) as response:
            assert response.status == 200
            assert await read_event(response) == OPENING[0]  # relayed before the filter gave up
            try:
                rest = await response.content.read()
            except aiohttp.ClientPayloadError:
                rest = b""
        assert rest == b""  # cut, not followed by a second (error) answer
        text = await g.sc.metrics_text()
    assert 'mcp_sidecar_upstream_errors_total{kind="filter"} 1.0' in text
    assert 'mcp_sidecar_requests_total{route="mcp",status="200"} 1.0' in text
