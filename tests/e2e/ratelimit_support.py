"""Pieces the rate-limit end-to-end tests share: a recording WordPress stand-in, rules, JSON-RPC calls."""

from __future__ import annotations

import base64
import binascii
import itertools
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDictProxy
from prometheus_client.parser import text_string_to_metric_families

from proxy.demo import DEMO_APP_PASSWORDS, DEMO_MCP_PATH
from tests.factories import RULES_DIR

__all__ = [
    "ALL_SCOPES",
    "COMMANDS_ALLOWLIST",
    "COMMANDS_PATH",
    "INITIALIZE",
    "PROTOCOL",
    "SITE_USERS",
    "RecordingUpstream",
    "Reply",
    "call_tool",
    "counted_down",
    "execute_ability",
    "metric_value",
    "post_json",
    "recording_upstream",
    "rules_with_extras",
]

ALL_SCOPES = ["mcp.read", "content.read", "content.write", "users.read", "settings.write"]
SITE_USERS = {login: {"app_password": password} for login, password in DEMO_APP_PASSWORDS.items()}
COMMANDS_PATH = "/wp-json/acme/v1/commands"
PROTOCOL = "2025-06-18"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": PROTOCOL,
        "capabilities": {},
        "clientInfo": {"name": "rl-e2e", "version": "1"},
    },
}
# The allowlist of a site with the default MCP route and one command-envelope API.
COMMANDS_ALLOWLIST = {
    "guarded": ["/mcp/**", "/acme/**"],
    "allow": [
        {"path": "/mcp/mcp-adapter-default-server"},
        {"path": "/acme/v1/commands", "methods": ["POST"], "kind": "commands"},
    ],
}
_CAPABILITIES = {
    "admin": ["read", "edit_posts", "list_users", "manage_options"],
    "editor": ["read", "edit_posts"],
    "subscriber": ["read"],
}
_ids = itertools.count(1)


@dataclass
class RecordingUpstream:
    """A WordPress stand-in that keeps every MCP and command body it is sent, and counts every request.

    It answers the REST index (the entitlement check reads it), `users/me` from a fixed capability
    table, every JSON-RPC request with a tiny result, and every command with a success envelope.
    """

    hits: int = 0
    mcp_bodies: list[Any] = field(default_factory=list)
    command_bodies: list[Any] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._count])
        app.router.add_get("/wp-json/", self._index)
        app.router.add_get("/wp-json/wp/v2/users/me", self._users_me)
        app.router.add_post(DEMO_MCP_PATH, self._mcp)
        app.router.add_post(COMMANDS_PATH, self._command)
        return app

    @web.middleware
    async def _count(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.hits += 1
        response: web.StreamResponse = await handler(request)
        return response

    async def _index(self, request: web.Request) -> web.Response:
        return web.json_response({"namespaces": ["wp/v2", "mcp", "acme/v1"]})

    async def _users_me(self, request: web.Request) -> web.Response:
        login = _basic_login(request.headers.get("Authorization", ""))
        if login is None:
            return web.json_response({"code": "rest_not_logged_in"}, status=401)
        capabilities = _CAPABILITIES[login]
        return web.json_response(
            {"id": 1, "slug": login, "roles": [login], "capabilities": dict.fromkeys(capabilities, True)}
        )

    async def _mcp(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.mcp_bodies.append(body)
        messages = body if isinstance(body, list) else [body]
        replies = [
            {"jsonrpc": "2.0", "id": m["id"], "result": {"content": [{"type": "text", "text": "ok"}]}}
            for m in messages
            if "id" in m and "method" in m
        ]
        return web.json_response(replies if isinstance(body, list) else replies[0])

    async def _command(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.command_bodies.append(body)
        return web.json_response(
            {"success": True, "data": {"ran": body["command"]}, "requestId": body.get("requestId")}
        )


def _basic_login(header: str) -> str | None:
    """The login of a Basic header carrying that user's demo application password, else None."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        login, _, password = base64.b64decode(encoded).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return login if DEMO_APP_PASSWORDS.get(login) == password and login in _CAPABILITIES else None


@asynccontextmanager
async def recording_upstream() -> AsyncIterator[tuple[RecordingUpstream, str]]:
    """A RecordingUpstream on a real socket; yields it and its base URL."""
    upstream = RecordingUpstream()
    server = TestServer(upstream.app(), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield upstream, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


def rules_with_extras(
    folder: Path, *, abilities: Mapping[str, Any] = {}, commands: Mapping[str, Any] = {}
) -> dict[str, str]:
    """The project's rules with extra abilities and commands, written to `folder`: a config `rules:` block."""
    tools = yaml.safe_load((RULES_DIR / "tools.yaml").read_text())
    tools["abilities"].update(abilities)
    tools["commands"] = {**(tools.get("commands") or {}), **commands}
    path = folder / "tools.yaml"
    path.write_text(yaml.safe_dump(tools))
    return {"tools": str(path), "toolsets": str(RULES_DIR / "toolsets.yaml")}


@dataclass(frozen=True)
class Reply:
    status: int
    headers: CIMultiDictProxy[str]
    body: Any


async def post_json(
    http: aiohttp.ClientSession, url: str, payload: Any, headers: Mapping[str, str] | None = None
) -> Reply:
    """POST a JSON body; the status, headers and parsed JSON body (None when empty) of the answer."""
    sent = {"Accept": "application/json, text/event-stream", **(headers or {})}
    async with http.post(url, json=payload, headers=sent) as response:
        text = await response.text()
        return Reply(response.status, response.headers, (await response.json()) if text else None)


def call_tool(
    name: str, arguments: Mapping[str, Any] | None = None, *, id: int | None = None
) -> dict[str, Any]:
    """A `tools/call` request message."""
    return {
        "jsonrpc": "2.0",
        "id": next(_ids) if id is None else id,
        "method": "tools/call",
        "params": {"name": name, "arguments": dict(arguments or {})},
    }


def execute_ability(
    ability: str, parameters: Mapping[str, Any] | None = None, *, id: int | None = None
) -> dict[str, Any]:
    """A `tools/call` of mcp-adapter-execute-ability running `ability`."""
    arguments = {"ability_name": ability, "parameters": dict(parameters or {})}
    return call_tool("mcp-adapter-execute-ability", arguments, id=id)


def metric_value(text: str, name: str, **labels: str) -> float:
    """One sample of a Prometheus text exposition (0 when absent), matched by its exact label set."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


def counted_down(value: str, nominal: int, since: float) -> bool:
    """A whole-seconds header that counts down from `nominal` since `since`, rounded up: exactly
    `nominal` on a run faster than a second (the usual case), never more, and less only by the time
    a slow machine really took."""
    return nominal - (time.monotonic() - since) <= int(value) <= nominal
