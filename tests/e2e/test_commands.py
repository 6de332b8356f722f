"""A command-envelope API (`POST <namespace>/commands`) behind the sidecar: the same rules gate the
command, with that API's own error semantics and its `requestId` echoed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from proxy.demo import DEMO_MCP_PATH
from tests.e2e.authz_support import (
    ALL_SCOPES,
    FakeWordPress,
    Guarded,
    fake_wordpress,
    guarded,
    read_reply,
    write_rules,
)

COMMANDS_PATH = "/wp-json/wp-loupe-mcp/v1/commands"
ALLOWLIST = {
    "guarded": ["/mcp/**", "/wp-loupe-mcp/v1/**"],
    "allow": [
        {"path": "/mcp/mcp-adapter-default-server"},
        {"path": "/wp-loupe-mcp/v1/commands", "methods": ["POST"], "kind": "commands"},
    ],
}
COMMANDS = {
    "search": {"capability": "read", "scope": "content.read", "writes": False, "toolsets": ["read-only"]},
    "reindex": {
        "capability": "manage_options",
        "scope": "settings.write",
        "writes": True,
        "toolsets": ["content"],
    },
    "health": {"scope": "content.read", "writes": False, "toolsets": ["read-only"]},
}


async def _run_command(request: web.Request, body: Any) -> web.StreamResponse:
    data = {"command": body["command"], "params": body.get("params", {})}
    return web.json_response(
        {"success": True, "error": None, "requestId": body.get("requestId"), "data": data}
    )


@asynccontextmanager
async def command_site(tmp_path: Path) -> AsyncIterator[tuple[FakeWordPress, Guarded]]:
    rules = write_rules(tmp_path, tools={"commands": COMMANDS})
    async with (
        fake_wordpress({COMMANDS_PATH: _run_command, DEMO_MCP_PATH: _run_command}) as wordpress,
        guarded(wordpress.url, top={"rules": rules}, allowlist=ALLOWLIST) as g,
    ):
        yield wordpress, g


async def send(g: Guarded, key: str, envelope: Any) -> Any:
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    async with g.sc.http.post(
        g.sc.url + COMMANDS_PATH, data=json.dumps(envelope), headers=headers
    ) as response:
        return await read_reply(response)


@pytest.mark.parametrize(
    ("user", "scopes", "profile", "envelope", "status", "code"),
    [
        pytest.param(
            "editor",
            ALL_SCOPES,
            None,
            {"params": {}, "requestId": "r-0"},
            400,
            "missing_command",
            id="missing",
        ),
        pytest.param(
            "editor", ALL_SCOPES, None, {"command": "", "requestId": 9}, 400, "missing_command", id="empty"
        ),
        pytest.param(
            "editor",
            ALL_SCOPES,
            None,
            {"command": "drop-tables", "requestId": "r-1"},
            400,
            "unknown_command",
            id="unknown",
        ),
        pytest.param(
            "admin",
            ("content.read",),
            None,
            {"command": "reindex", "requestId": 7},
            403,
            "insufficient_scope",
            id="scope",
        ),
        pytest.param(
            "editor",
            ALL_SCOPES,
            None,
            {"command": "reindex", "requestId": "r-2"},
            403,
            "insufficient_capability",
            id="capability",
        ),
        pytest.param(
            "admin",
            ALL_SCOPES,
            "read-only",
            {"command": "reindex", "requestId": "r-3"},
            403,
            "command_not_in_toolset",
            id="profile",
        ),
    ],
)
async def test_refused_commands_never_reach_wordpress(
    tmp_path: Path,
    user: str,
    scopes: tuple[str, ...],
    profile: str | None,
    envelope: dict[str, Any],
    status: int,
    code: str,
) -> None:
    async with command_site(tmp_path) as (wordpress, g):
        reply = await send(g, await g.key(user, scopes=scopes, profile=profile), envelope)
    assert reply.status == status
    assert reply.body["success"] is False
    assert reply.body["error"]["code"] == code
    assert reply.body["requestId"] == envelope["requestId"]
    assert reply.body["data"] is None
    assert wordpress.bodies(COMMANDS_PATH) == []


async def test_missing_scope_challenge_on_a_command(tmp_path: Path) -> None:
    async with command_site(tmp_path) as (_, g):
        reply = await send(
            g, await g.key("admin", scopes=("content.read",)), {"command": "reindex", "requestId": 7}
        )
    assert 'error="insufficient_scope"' in reply.headers["WWW-Authenticate"]
    assert 'scope="content.read settings.write"' in reply.headers["WWW-Authenticate"]


@pytest.mark.parametrize("command", ["search", "health"])
async def test_allowed_command_is_forwarded_as_the_mapped_user(tmp_path: Path, command: str) -> None:
    envelope = {"command": command, "params": {"q": "hello"}, "requestId": "r-9"}
    async with command_site(tmp_path) as (wordpress, g):
        key = await g.key("subscriber", scopes=("content.read",))
        reply = await send(g, key, envelope)
    assert reply.status == 200
    assert reply.body == {
        "success": True,
        "error": None,
        "requestId": "r-9",
        "data": {"command": command, "params": {"q": "hello"}},
    }
    assert wordpress.bodies(COMMANDS_PATH) == [envelope]
    [headers] = [headers for path, headers, _ in wordpress.seen if path == COMMANDS_PATH]
    assert headers["authorization"].startswith("Basic ")
    assert "x-api-key" not in headers
    assert key not in json.dumps(wordpress.seen)
