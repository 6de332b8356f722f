"""A real `mcp` SDK server on a real socket, recording every POST it gets and what it answered.

Lets the header checks and the SSE parser be tested against what the SDK's own client and server
put on the wire, in both protocol eras, rather than against hand-written guesses.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings

__all__ = ["Exchange", "RecordingServer", "recording_sdk_server"]


@dataclass
class Exchange:
    """One POST: request headers and body, response content type and body bytes."""

    headers: list[tuple[str, str]]
    body: bytes
    content_type: str = ""
    response: bytes = b""


@dataclass
class RecordingServer:
    url: str
    exchanges: list[Exchange] = field(default_factory=list)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _sdk_app() -> Any:
    server = MCPServer("recording")

    @server.tool()
    def echo(text: str) -> str:
        """Echo the text back."""
        return text

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    @server.resource("demo://greeting/{name}")
    def greeting(name: str) -> str:
        """A greeting."""
        return f"hello {name}"

    return server.streamable_http_app(
        streamable_http_path="/mcp",
        json_response=False,
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )


def _recorder(app: Any, recording: RecordingServer) -> Any:
    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await app(scope, receive, send)
            return
        exchange = Exchange(
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]], body=b""
        )
        recording.exchanges.append(exchange)

        async def recording_receive() -> dict[str, Any]:
            message = await receive()
            if message["type"] == "http.request":
                exchange.body += message.get("body", b"")
            return message

        async def recording_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                exchange.content_type = headers.get(b"content-type", b"").decode("latin-1")
            elif message["type"] == "http.response.body":
                exchange.response += message.get("body", b"")
            await send(message)

        await app(scope, recording_receive, recording_send)

    return asgi


@contextlib.asynccontextmanager
async def recording_sdk_server() -> AsyncIterator[RecordingServer]:
    sock = socket.create_server(("127.0.0.1", 0))
    recording = RecordingServer(url=f"http://127.0.0.1:{sock.getsockname()[1]}/mcp")
    config = uvicorn.Config(
        _recorder(_sdk_app(), recording),
        log_config=None,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                await task
                raise RuntimeError("the SDK server did not start")
            await asyncio.sleep(0.005)
        yield recording
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
