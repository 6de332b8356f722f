"""Response-side work on a forwarded MCP answer: seal the session id, hide what the caller may not
see (tools/list, discover-abilities), and merge in the sidecar's own answers to refused batch members.

JSON answers are small and read whole to rewrite them; SSE answers are rewritten event by event.
Fails closed: an answer that must be filtered but cannot be read (content-encoded despite the
`Accept-Encoding: identity` we send, or oversized) is replaced by a JSON-RPC error, never relayed.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import hdrs
from mcp_types.jsonrpc import INTERNAL_ERROR
from multidict import CIMultiDict

from proxy.headers import MCP_SESSION_ID
from proxy.mcp.jsonrpc import error_response
from proxy.mcp.rewrite import ResponseRewriter
from proxy.mcp.sse import rewrite_sse
from proxy.mcp.strict_json import dump_json

__all__ = ["MAX_JSON_ANSWER", "McpResponseFilter"]

MAX_JSON_ANSWER = 16 * 1024 * 1024


def _unfilterable(reason: str) -> bytes:
    return dump_json(
        error_response(None, INTERNAL_ERROR, f"the upstream answer cannot be filtered: {reason}")
    ).encode()


class McpResponseFilter:
    """One request's response filter (see proxy.context.ResponseFilter)."""

    __slots__ = ("_blocked", "_local", "_on_unauthorized", "_rewriter", "_seal", "_sse", "reads_body")

    def __init__(
        self,
        rewriter: ResponseRewriter | None,
        seal: Callable[[str], str],
        local_answers: list[dict[str, Any]],
        on_unauthorized: Callable[[], None],
    ) -> None:
        """Positional: one is built for every MCP request, and keywords cost a class call a dict."""
        self._rewriter = rewriter  # None, or one with answers to rewrite (ResponseRewriter.for_body)
        self._seal = seal
        self._local = local_answers
        self._on_unauthorized = on_unauthorized
        self._sse = False
        self._blocked: str | None = None  # why the body cannot be read: it is replaced, not relayed
        # Whether answers are read (rewritten or merged), not just relayed.
        self.reads_body = self._rewriter is not None or bool(local_answers)

    def headers(self, status: int, headers: CIMultiDict[str]) -> bool:
        session = headers.get(MCP_SESSION_ID)
        if session is not None:
            headers[MCP_SESSION_ID] = self._seal(session)
        if status == 401:
            self._on_unauthorized()  # the mapped user's application password no longer works
        if not self.reads_body:
            return False
        content_type = headers.get(hdrs.CONTENT_TYPE, "")
        self._sse = content_type.startswith("text/event-stream")
        if not (self._sse or content_type.startswith("application/json")) or status >= 300:
            return False
        encoding = headers.get(hdrs.CONTENT_ENCODING, "identity").strip().lower()
        if encoding != "identity":
            self._blocked = f"it is {encoding}-encoded"
            headers.popall("Content-Encoding")
            headers["Content-Type"] = "application/json"
        return True

    def body(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        if self._blocked is not None:
            return self._refused(self._blocked)
        return self._sse_body(chunks) if self._sse else self._json_body(chunks)

    @staticmethod
    async def _refused(reason: str) -> AsyncIterator[bytes]:
        yield _unfilterable(reason)

    async def _json_body(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        parts: list[bytes] = []
        size = 0
        async for chunk in chunks:
            size += len(chunk)
            if size > MAX_JSON_ANSWER:
                yield _unfilterable(f"it exceeds {MAX_JSON_ANSWER} bytes")
                return
            parts.append(chunk)
        body = b"".join(parts)
        rewritten = self._rewriter.rewrite_body(body) if self._rewriter is not None else None
        body = rewritten if rewritten is not None else body
        yield self._merge(body) if self._local else body

    def _merge(self, body: bytes) -> bytes:
        try:
            value = json.loads(body) if body.strip() else []
        except ValueError:
            return body
        answers = value if isinstance(value, list) else [value]
        return dump_json([*answers, *self._local]).encode()

    async def _sse_body(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        transform = self._rewriter.rewrite_message if self._rewriter is not None else _unchanged
        async for chunk in rewrite_sse(chunks, transform):
            yield chunk
        for answer in self._local:
            yield b"event: message\ndata: " + dump_json(answer).encode() + b"\n\n"


def _unchanged(_message: dict[str, Any]) -> dict[str, Any] | None:
    return None
