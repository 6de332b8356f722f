"""Stage `inspect`: read and parse the MCP message (or command envelope) once, and know its targets.

Routing headers of the stateless era (`Mcp-Method`, `Mcp-Name`, `MCP-Protocol-Version`) must agree
with the body; policy is always decided from the body, never from the headers.
"""

from __future__ import annotations

from typing import NamedTuple

from aiohttp import web
from aiohttp.hdrs import CONTENT_TYPE

from proxy.context import RequestContext
from proxy.errors import SidecarError
from proxy.mcp.commands import CommandEnvelope, parse_command
from proxy.mcp.headers import check_headers
from proxy.mcp.jsonrpc import Message, ParsedBody, parse_body
from proxy.mcp.target import Target, resolve_target
from proxy.records import new_record
from proxy.upstream import body_too_large

__all__ = ["Inspected", "inspect", "read_limited"]


class Inspected(NamedTuple):
    """A parsed MCP POST: every message, in order, with what it targets (responses target nothing)."""

    body: ParsedBody
    targets: tuple[tuple[Message, Target], ...]
    era: str


async def read_limited(ctx: RequestContext, limit: int) -> bytes:
    """The whole request body, refusing (413) more than `limit` bytes, declared or sent."""
    request = ctx.request
    declared = request.content_length
    if declared is not None and declared > limit:
        raise body_too_large(limit)
    if declared is not None:  # aiohttp's parser stops at the declared length: read it in one go
        content = request.content
        # Usually the whole body came with the headers: take it as it lies, without read()'s copy loop.
        body = content.read_nowait() if content.is_eof() else await request.read()
        if len(body) > limit:  # a Content-Encoding the server decoded can outgrow the declared length
            raise body_too_large(limit)
        return body
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise body_too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _require_json(ctx: RequestContext) -> None:
    request = ctx.request
    # the usual exact header first: aiohttp's content_type parses the header on every call
    if request.headers.get(CONTENT_TYPE) != "application/json" and request.content_type != "application/json":
        raise SidecarError(
            415, "unsupported_media_type", "POST bodies must be Content-Type: application/json"
        )


async def inspect(ctx: RequestContext) -> web.StreamResponse | None:
    if ctx.route not in ("mcp", "commands") or ctx.request.method != "POST":
        return None
    _require_json(ctx)
    limit = ctx.runtime.config.limits.max_mcp_body_bytes
    ctx.body = await read_limited(ctx, limit)
    if ctx.route == "commands":
        envelope: CommandEnvelope = parse_command(ctx.body)
        ctx.command_request_id = envelope.request_id
        ctx.mcp = envelope
        ctx.mcp_method = "command"
        ctx.tool = envelope.command
        return None
    parsed = parse_body(ctx.body)
    if not parsed.batch:  # set first: refusals of the message below answer with its id
        ctx.jsonrpc_id = parsed.messages[0].id
    era = check_headers(parsed, ctx.request.headers)
    targets = tuple([(message, resolve_target(message)) for message in parsed.messages])
    ctx.mcp = new_record(Inspected, (parsed, targets, era))
    ctx.mcp_method = "batch" if parsed.batch else parsed.messages[0].method
    for _, target in targets:
        if target.kind == "tool":  # the first tool call names the request in the access line
            ctx.tool, ctx.ability = target.name, target.ability
            break
    return None
