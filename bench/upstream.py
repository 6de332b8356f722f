"""A fast WordPress-shaped upstream for benchmarks.

It answers the few things the sidecar asks WordPress for, shaped like mcp-adapter on WordPress
(../shared/upstream.md), with answers built once at start so it stays far cheaper than any proxy
in front of it:

- `GET /wp-json/`: the REST index, whose `namespaces` show the MCP plugin installed (entitlement);
- `GET /wp-json/wp/v2/users/me?context=edit`: an administrator's roles and capabilities;
- `POST` of a JSON-RPC message, on the MCP route or any other path: `initialize` (with an
  `Mcp-Session-Id` header), `tools/list` (the three meta-tools of the demo site), `tools/call`
  (a successful execute-ability result), anything else an empty result; the request `id` echoed;
- `GET /__bench/requests`: how many requests it has answered apart from the two lookups above (which
  the sidecar makes on its own), so a benchmark can prove that refused requests never reached it.

The slow, faithful demo (proxy.demo) is for tests; this one is for load.
"""

from __future__ import annotations

import argparse
import json
import uuid
from typing import Any

from aiohttp import web

from proxy.demo.meta_tools import META_TOOLS

__all__ = ["COUNT_PATH", "build_app"]

COUNT_PATH = "/__bench/requests"
USERS_ME = "/wp-json/wp/v2/users/me"
REST_INDEX = "/wp-json/"

_CAPABILITIES = ("read", "edit_posts", "publish_posts", "list_users", "manage_options", "level_0")
_USERS_ME_BODY = json.dumps(
    {
        "id": 1,
        "name": "admin",
        "roles": ["administrator"],
        "capabilities": {"administrator": True, **dict.fromkeys(_CAPABILITIES, True)},
    }
).encode()
_INDEX_BODY = json.dumps({"namespaces": ["oembed/1.0", "mcp", "wp/v2", "wp-abilities/v1"]}).encode()
_INITIALIZE = {
    "protocolVersion": "2025-11-25",
    "capabilities": {
        "prompts": {"listChanged": False},
        "resources": {"subscribe": False, "listChanged": False},
        "tools": {"listChanged": False},
    },
    "serverInfo": {"name": "MCP Adapter Default Server", "version": "v1.0.0"},
}
_TOOLS = {"tools": [tool.model_dump(mode="json", by_alias=True, exclude_none=True) for tool in META_TOOLS]}
_POST = {"id": 1, "title": "Hello world!", "content": "Welcome to WordPress."}
_CALL = {
    "content": [{"type": "text", "text": json.dumps({"success": True, "data": _POST})}],
    "structuredContent": {"success": True, "data": _POST},
    "isError": False,
}
_RESULTS: dict[str, Any] = {"initialize": _INITIALIZE, "tools/list": _TOOLS, "tools/call": _CALL}
_DOCUMENTS = {USERS_ME: _USERS_ME_BODY, REST_INDEX: _INDEX_BODY}
_JSON = "application/json; charset=UTF-8"  # what WordPress sends
_COUNT = web.AppKey("count", list[int])


def _answer(message: Any) -> bytes:
    method = message.get("method") if isinstance(message, dict) else None
    result = _RESULTS.get(method, {}) if isinstance(method, str) else {}
    return json.dumps({"jsonrpc": "2.0", "id": message.get("id"), "result": result}).encode()


async def rpc(request: web.Request) -> web.Response:
    body = await request.read()
    if request.method == "GET" and request.path in _DOCUMENTS:
        return web.Response(body=_DOCUMENTS[request.path], content_type="application/json")
    request.app[_COUNT][0] += 1
    try:
        message = json.loads(body) if body else None
    except ValueError:
        message = None
    if not isinstance(message, dict) or "method" not in message:
        return web.Response(body=b'{"jsonrpc":"2.0","id":null,"result":{}}', headers={"Content-Type": _JSON})
    if "id" not in message:  # a notification: WordPress answers 202 without a body
        return web.Response(status=202)
    headers = {"Content-Type": _JSON}
    if message["method"] == "initialize":
        headers["Mcp-Session-Id"] = str(uuid.uuid4())
    return web.Response(body=_answer(message), headers=headers)


async def count(request: web.Request) -> web.Response:
    return web.json_response({"requests": request.app[_COUNT][0]})


def build_app() -> web.Application:
    app = web.Application(client_max_size=16 * 1024 * 1024)
    app[_COUNT] = [0]
    app.router.add_get(COUNT_PATH, count)
    app.router.add_route("*", "/{tail:.*}", rpc)
    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    web.run_app(build_app(), host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
