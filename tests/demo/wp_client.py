"""A small client speaking to the demo as clients of a real WordPress site do."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy

from proxy.demo import DEMO_APP_PASSWORDS, DEMO_MCP_PATH, RunningDemo

INIT_PARAMS = {
    "protocolVersion": "2025-06-18",
    "capabilities": {},
    "clientInfo": {"name": "tests", "version": "0"},
}


def basic(login: str, password: str | None = None) -> str:
    secret = DEMO_APP_PASSWORDS[login] if password is None else password
    return "Basic " + base64.b64encode(f"{login}:{secret}".encode()).decode()


def rpc(method: str, params: dict[str, Any] | None = None, *, rid: int | str | None = 1) -> dict[str, Any]:
    message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    if rid is not None:
        message["id"] = rid
    return message


def execute(ability: str, parameters: dict[str, Any], *, rid: int = 7) -> dict[str, Any]:
    arguments = {"ability_name": ability, "parameters": parameters}
    return rpc("tools/call", {"name": "mcp-adapter-execute-ability", "arguments": arguments}, rid=rid)


@dataclass
class Reply:
    status: int
    headers: CIMultiDictProxy[str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)


@dataclass
class WpClient:
    """HTTP to the demo as a client of a real site would speak it."""

    demo: RunningDemo
    http: aiohttp.ClientSession

    async def request(
        self,
        method: str,
        path: str,
        *,
        login: str | None = None,
        body: Any = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        sent = {"Content-Type": "application/json"} if body is not None or raw is not None else {}
        if login is not None:
            sent["Authorization"] = basic(login)
        sent.update(headers or {})
        data = json.dumps(body).encode() if body is not None else raw
        async with self.http.request(method, self.demo.url + path, data=data, headers=sent) as response:
            return Reply(response.status, response.headers, await response.read())

    async def mcp(
        self,
        login: str | None,
        body: Any,
        *,
        session: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        sent = {"Accept": "application/json, text/event-stream", **(headers or {})}
        if session is not None:
            sent["Mcp-Session-Id"] = session
        return await self.request("POST", DEMO_MCP_PATH, login=login, body=body, headers=sent)

    async def initialize(self, login: str) -> str:
        reply = await self.mcp(login, rpc("initialize", INIT_PARAMS))
        assert reply.status == 200, reply.raw
        session = reply.headers["Mcp-Session-Id"]
        await self.mcp(login, rpc("notifications/initialized", rid=None), session=session)
        return session
