"""mcp-adapter's HTTP transport, as observed on WordPress 7.1 + mcp-adapter 0.5.0.

WordPress answers MCP the way PHP answers anything: one request, one JSON reply, never a
stream, and sessions that are rows in user meta rather than live connections. So the SDK
runs stateless (a fresh connection per message) and this layer does what the plugin does
around it: sessions per WordPress user, batches, the header checks, an HTTP status per
JSON-RPC error code, GET 405, DELETE ending the session, 202 for notifications.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings
from starlette.responses import Response
from starlette.types import Message

from proxy.demo.responses import WPJSONResponse, empty_response
from proxy.demo.rest_server import USER_SCOPE_KEY, RestCall, RestRoute, forbidden
from proxy.demo.users import DemoUser

if TYPE_CHECKING:
    from proxy.demo.site import DemoSite

__all__ = ["SUPPORTED_VERSIONS", "McpTransport", "http_status_for"]

SUPPORTED_VERSIONS = ("2025-11-25", "2025-06-18", "2024-11-05")
WP_METHODS = frozenset(
    {
        "initialize",
        "ping",
        "tools/list",
        "tools/list/all",
        "tools/call",
        "resources/list",
        "resources/read",
        "prompts/list",
        "prompts/get",
    }
)
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INTERNAL_ERROR = -32603
SESSION_NOT_FOUND = -32005

_HTTP_STATUS = {
    -32700: 400,
    -32600: 400,
    -32010: 401,
    -32008: 403,
    -32601: 404,
    -32002: 404,
    -32003: 404,
    -32004: 404,
    -32005: 404,
    -32603: 500,
    -32000: 500,
    -32001: 504,
}


def http_status_for(reply: dict[str, Any]) -> int:
    """The plugin's HTTP status for a single reply: 200 unless it is an error it maps."""
    error = reply.get("error")
    return _HTTP_STATUS.get(error.get("code", 0), 200) if isinstance(error, dict) else 200


def _error(request_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "error": {"code": code, "message": message}, "id": request_id}


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _can_read(user: DemoUser | None) -> bool:
    return user is not None and user.can("read")


class McpTransport:
    """The `POST|GET|DELETE /wp-json/mcp/<server>` route, with the SDK behind it."""

    def __init__(self, site: DemoSite, server: Server[Any]) -> None:
        self._site = site
        self._manager = StreamableHTTPSessionManager(
            app=server,
            json_response=True,
            stateless=True,
            # The plugin has no Host/Origin check; neither may its stand-in.
            security_settings=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )

    def run(self) -> AbstractAsyncContextManager[None]:
        """The SDK's task group; must be entered (app lifespan) before serving."""
        return self._manager.run()

    def route(self, *, namespace: str = "mcp", route: str = "/mcp-adapter-default-server") -> RestRoute:
        # Route permission as the plugin's default: any logged-in user who can `read`.
        return RestRoute(namespace, route, ("POST", "GET", "DELETE"), self.handle, _can_read)

    async def handle(self, call: RestCall) -> Response:
        user = call.user
        if user is None:
            raise forbidden(user)
        if call.request.method == "GET":
            return empty_response(405)
        if call.request.method == "DELETE":
            return self._terminate(call, user)
        return await self._post(call, user)

    def _terminate(self, call: RestCall, user: DemoUser) -> Response:
        session_id = call.request.headers.get("mcp-session-id")
        if not session_id:
            reply = _error(None, INVALID_REQUEST, "Invalid Request: Missing Mcp-Session-Id header")
            return WPJSONResponse(reply, status_code=400)
        self._site.sessions.end(user.id, session_id)
        return empty_response(200)

    async def _post(self, call: RestCall, user: DemoUser) -> Response:
        body = call.body
        if not isinstance(body, dict | list) or not body:
            invalid = _error(
                None, INVALID_REQUEST, "Invalid Request: The JSON sent is not a valid Request object"
            )
            return WPJSONResponse(invalid, status_code=400)
        messages = body if isinstance(body, list) else [body]
        self._count(messages)
        headers: dict[str, str] = {}
        replies = [r for m in messages if (r := await self._answer(call, user, m, headers)) is not None]
        if not replies:
            return empty_response(202)
        if isinstance(body, list):
            return WPJSONResponse(replies, headers=headers)
        return WPJSONResponse(replies[0], status_code=http_status_for(replies[0]), headers=headers)

    def _count(self, messages: Sequence[Any]) -> None:
        for message in map(_as_dict, messages):
            method = message.get("method")
            if not isinstance(method, str):
                continue
            self._site.calls[method] += 1
            if method == "tools/call":
                params = _as_dict(message.get("params"))
                ability = _as_dict(params.get("arguments")).get("ability_name")
                key = (str(params.get("name")), ability if isinstance(ability, str) else None)
                self._site.tool_calls[key] += 1

    async def _answer(
        self, call: RestCall, user: DemoUser, message: Any, headers: dict[str, str]
    ) -> dict[str, Any] | None:
        """One message's reply, or None for a notification or a client's response."""
        if not isinstance(message, dict):
            return _error(None, INVALID_REQUEST, "Invalid Request: Message must be a JSON object")
        if message.get("jsonrpc") != "2.0":
            return _error(None, INVALID_REQUEST, 'Invalid Request: jsonrpc version must be "2.0"')
        method = message.get("method")
        if not isinstance(method, str):
            if "result" in message or "error" in message:
                return None
            return _error(
                None, INVALID_REQUEST, "Invalid Request: Message must have either method or result/error"
            )
        request_id = message.get("id")
        if request_id is None:
            return None
        if method != "initialize" and (refusal := self._check_headers(call, user)) is not None:
            return _error(request_id, *refusal)
        if method not in WP_METHODS:
            return _error(request_id, METHOD_NOT_FOUND, f"Method not found: {method}")
        if method == "initialize":
            message = _with_supported_version(message)
        reply = await self._dispatch(call, user, message)
        if method == "initialize" and "result" in reply:
            headers["Mcp-Session-Id"] = self._site.sessions.create(user.id)
        return reply

    def _check_headers(self, call: RestCall, user: DemoUser) -> tuple[int, str] | None:
        """Session first, then protocol version, as the plugin checks them."""
        session_id = call.request.headers.get("mcp-session-id")
        if not session_id:
            return INVALID_REQUEST, "Invalid Request: Missing Mcp-Session-Id header"
        if not self._site.sessions.touch(user.id, session_id):
            return SESSION_NOT_FOUND, "Session not found: Invalid or expired session"
        version = call.request.headers.get("mcp-protocol-version")
        if version is not None and version not in SUPPORTED_VERSIONS:
            supported = ", ".join(SUPPORTED_VERSIONS)
            return INVALID_REQUEST, (
                f"Invalid Request: Unsupported protocol version: {version} (supported versions: {supported})"
            )
        return None

    async def _dispatch(self, call: RestCall, user: DemoUser, message: dict[str, Any]) -> dict[str, Any]:
        """Hand one request to the SDK as its own POST and return the JSON-RPC reply."""
        body = json.dumps(message).encode()
        scope = {
            **call.request.scope,
            "method": "POST",
            "query_string": b"",
            "headers": [
                (b"content-type", b"application/json"),
                (b"accept", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                # The plugin's answers do not vary by version; pin the SDK to the newest one.
                (b"mcp-protocol-version", SUPPORTED_VERSIONS[0].encode()),
            ],
            USER_SCOPE_KEY: user,
        }
        pending = [{"type": "http.request", "body": body, "more_body": False}]
        status = 0
        chunks: list[bytes] = []

        async def receive() -> Message:
            return pending.pop() if pending else {"type": "http.disconnect"}

        async def send(event: Message) -> None:
            nonlocal status
            if event["type"] == "http.response.start":
                status = event["status"]
            elif event["type"] == "http.response.body":
                chunks.append(event.get("body", b""))

        await self._manager.handle_request(scope, receive, send)
        try:
            reply = json.loads(b"".join(chunks))
        except ValueError:
            reply = None
        if status != 200 or not isinstance(reply, dict):
            return _error(message.get("id"), INTERNAL_ERROR, "Internal error: Handler error occurred")
        return reply


def _with_supported_version(message: dict[str, Any]) -> dict[str, Any]:
    """The plugin answers an unsupported `protocolVersion` with its newest, 2025-11-25."""
    params = message.get("params")
    if not isinstance(params, dict) or params.get("protocolVersion") in SUPPORTED_VERSIONS:
        return message
    return {**message, "params": {**params, "protocolVersion": SUPPORTED_VERSIONS[0]}}
