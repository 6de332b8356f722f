"""The one place refusals become responses, in the dialect of the route that was asked.

MCP routes answer a JSON-RPC error (with the request's id when known), command APIs their envelope,
OAuth endpoints RFC 6749 JSON, disabled surfaces a bare 404, everything else
`{"error": {"code", "message", "request_id"}}`.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from proxy.context import RequestContext
from proxy.errors import SidecarError
from proxy.headers import REQUEST_ID, WWW_AUTHENTICATE

__all__ = ["bearer_challenge", "render_error"]

# JSON-RPC codes for sidecar refusals on MCP routes (implementation-defined server errors range).
_JSONRPC_CODES = {
    400: -32600,
    401: -32010,  # the WordPress plugin's own "unauthorized" code
    403: -32008,  # the WordPress plugin's own "forbidden" code
    404: -32005,
    413: -32600,
    429: -32029,
}


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def bearer_challenge(ctx: RequestContext, error: SidecarError) -> str:
    """`WWW-Authenticate: Bearer ...` per RFC 6750 section 3 and RFC 9728 section 5.1."""
    site = ctx.site
    params: list[tuple[str, str]] = []
    if site is not None:
        params.append(("realm", site.name))
    if error.code not in ("missing_token",):
        params.append(("error", error.code if error.code != "invalid_header" else "invalid_request"))
        params.append(("error_description", error.message))
    if error.scope:
        params.append(("scope", error.scope))
    if ctx.resource_metadata:
        params.append(("resource_metadata", ctx.resource_metadata))
    return "Bearer " + ", ".join(f"{key}={_quote(value)}" for key, value in params)


def _body(ctx: RequestContext, error: SidecarError) -> Any:
    if ctx.route == "mcp":
        payload: dict[str, Any] = {
            "code": _JSONRPC_CODES.get(error.status, -32000),
            "message": error.message,
            "data": {"code": error.code, "request_id": ctx.request_id, **error.data},
        }
        message_id = ctx.jsonrpc_id
        return {"jsonrpc": "2.0", "error": payload, "id": message_id}
    if ctx.route == "commands":
        return {
            "success": False,
            "error": {"code": error.code, "message": error.message, **error.data},
            "requestId": ctx.command_request_id,
            "data": None,
        }
    if ctx.route == "oauth":
        return {"error": error.code, "error_description": error.message}
    return {
        "error": {"code": error.code, "message": error.message, "request_id": ctx.request_id, **error.data}
    }


def render_error(ctx: RequestContext, error: SidecarError) -> web.Response:
    """Render a refusal; a `hidden` refusal is a bare 404 that does not admit the surface exists."""
    headers = {REQUEST_ID: ctx.request_id, **ctx.response_headers, **error.headers}
    if error.code == "not_found_hidden":
        return web.Response(status=404, headers=headers)
    if error.challenge:
        headers[WWW_AUTHENTICATE] = bearer_challenge(ctx, error)
    if error.status == 413:
        headers.setdefault("Connection", "close")  # the rest of an oversized body is never read
    if ctx.route == "oauth":
        headers.setdefault("Cache-Control", "no-store")
    return web.Response(
        status=error.status,
        headers=headers,
        content_type="application/json",
        text=json.dumps(_body(ctx, error), separators=(",", ":")),
    )
