"""The one place refusals become responses, in the dialect of the route that was asked.

MCP routes answer a JSON-RPC error (with the request's id when known), command APIs their envelope,
OAuth endpoints RFC 6749 JSON, hidden surfaces a bare 404, everything else
`{"error": {"code", "message", "request_id"}}`.

A challenge names the scopes needed (RFC 6750 section 3, as MCP servers should): the one to step up
to for `insufficient_scope`, else those of what the site offers at the URL asked (its enabled
toolsets, narrowed by `?toolset=`), computed once per version of the rules. MCP clients ask for
these rather than for every scope the metadata lists, so a client registered with fewer scopes than
the rules define still gets a token where it asks for no more than it may have.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from aiohttp.hdrs import CONTENT_TYPE

from proxy.context import RequestContext
from proxy.errors import SidecarError
from proxy.headers import REQUEST_ID, WWW_AUTHENTICATE
from proxy.mcp.commands import CommandError, envelope_error
from proxy.mcp.jsonrpc import JsonRpcError
from proxy.rules import Rules

__all__ = ["ChallengeScopes", "bearer_challenge", "jsonrpc_error", "render_error"]

# JSON-RPC codes for sidecar refusals on MCP routes: the WordPress plugin's own where it has one.
_JSONRPC_CODES = {
    400: -32600,
    401: -32010,  # the plugin's "unauthorized"
    403: -32008,  # the plugin's "forbidden"
    404: -32005,  # the plugin's "session not found": clients re-initialize on it
    413: -32600,
    429: -32029,
    503: -32000,
}


class ChallengeScopes:
    """The scopes a 401 challenge names: every scope an entry of the given toolsets needs, computed once
    per version of the rules and set of toolsets."""

    def __init__(self) -> None:
        self._rules: Rules | None = None
        self._hints: dict[frozenset[str], str | None] = {}

    def __call__(self, rules: Rules, toolsets: frozenset[str]) -> str | None:
        if rules is not self._rules:  # reloaded: start again
            self._rules, self._hints = rules, {}
        if toolsets not in self._hints:
            needed = {
                rule.scope
                for entries in rules.entries.values()
                for rule in entries.values()
                if not rule.toolsets.isdisjoint(toolsets)
            }
            if rules.unknown_rule is not None:  # unlisted names the toolsets' globs may admit
                needed.add(rules.unknown_rule.scope)
            self._hints[toolsets] = " ".join(sorted(needed)) or None
        return self._hints[toolsets]

    def for_request(self, ctx: RequestContext) -> str | None:
        """For this request: the site's enabled toolsets, or those of them `?toolset=` narrows to."""
        named = {
            name.strip() for value in ctx.request.query.getall("toolset", []) for name in value.split(",")
        }
        return self(ctx.runtime.rules, (ctx.site_toolsets & named) or ctx.site_toolsets)


_challenge_scopes = ChallengeScopes()
# Built once: json.dumps with any option builds a new encoder on every call (refusals can be a flood).
_encode_compact = json.JSONEncoder(separators=(",", ":")).encode
_JSON_UTF8 = "application/json; charset=utf-8"


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def bearer_challenge(ctx: RequestContext, error: SidecarError) -> str:
    """`WWW-Authenticate: Bearer ...` per RFC 6750 section 3 and RFC 9728 section 5.1."""
    params: list[tuple[str, str]] = []
    if ctx.site is not None:
        params.append(("realm", ctx.site.name))
    if error.code != "missing_token":  # RFC 6750 3.1: no error code when no credential was sent
        params.append(("error", "invalid_request" if error.code == "invalid_header" else error.code))
        params.append(("error_description", error.message))
    scope = error.scope or _challenge_scopes.for_request(ctx)  # the step-up scope, else what is needed
    if scope:
        params.append(("scope", scope))
    if ctx.resource_metadata:
        params.append(("resource_metadata", ctx.resource_metadata))
    return "Bearer " + ", ".join(f"{key}={_quote(value)}" for key, value in params)


def jsonrpc_error(ctx: RequestContext, error: SidecarError, message_id: Any) -> dict[str, Any]:
    """A JSON-RPC error response for a refusal; `data.code` carries the stable code."""
    rpc_code = error.rpc_code if isinstance(error, JsonRpcError) else _JSONRPC_CODES.get(error.status, -32000)
    data: dict[str, Any] = {"code": error.code, "request_id": ctx.request_id, **error.data}
    if error.scope:
        data["scope"] = error.scope
    return {
        "jsonrpc": "2.0",
        "error": {"code": rpc_code, "message": error.message, "data": data},
        "id": message_id,
    }


def _body(ctx: RequestContext, error: SidecarError) -> Any:
    if ctx.route == "mcp":
        message_id = error.id if isinstance(error, JsonRpcError) and error.id is not None else ctx.jsonrpc_id
        return jsonrpc_error(ctx, error, message_id)
    if ctx.route == "commands":
        request_id = error.request_id if isinstance(error, CommandError) else ctx.command_request_id
        body = envelope_error(error.code, error.message, request_id)
        body["error"].update(error.data)
        return body
    if ctx.route == "oauth":
        return {"error": error.code, "error_description": error.message}
    return {
        "error": {"code": error.code, "message": error.message, "request_id": ctx.request_id, **error.data}
    }


def render_error(ctx: RequestContext, error: SidecarError) -> web.Response:
    """Render a refusal; a `hidden` refusal is a bare 404 that does not admit the surface exists."""
    headers = {REQUEST_ID: ctx.request_id, **ctx.response_headers, **error.headers}
    if error.hidden:
        return web.Response(status=404, headers=headers)
    if error.challenge:
        headers[WWW_AUTHENTICATE] = bearer_challenge(ctx, error)
    if error.status == 413:
        headers.setdefault("Connection", "close")  # the rest of an oversized body is never read
    if ctx.route == "oauth":
        headers.setdefault("Cache-Control", "no-store")
    headers[CONTENT_TYPE] = _JSON_UTF8  # as content_type= and text= would set it, without their work
    return web.Response(
        status=error.status, headers=headers, body=_encode_compact(_body(ctx, error)).encode()
    )
