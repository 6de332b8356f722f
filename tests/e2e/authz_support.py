"""Shared pieces of the authorization end-to-end tests.

A sidecar in front of a WordPress-shaped upstream (the demo, or `FakeWordPress` for what the demo
does not do: SSE answers, command APIs, recording request bodies), credentials issued through the
sidecar's own services, a small JSON-RPC client over aiohttp, and rules files written per test.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDictProxy

from proxy.demo import DEMO_APP_PASSWORDS, DEMO_MCP_PATH, RunningDemo
from proxy.demo.users import ROLE_CAPABILITIES, normalize_app_password, parse_basic_auth
from tests.factories import RULES_DIR, make_config
from tests.proxy_harness import RunningSidecar, running_sidecar

ALL_SCOPES = ("mcp.read", "content.read", "content.write", "users.read", "settings.write")
SITE_USERS = {login: {"app_password": password} for login, password in DEMO_APP_PASSWORDS.items()}
META_TOOLS = frozenset(
    {"mcp-adapter-discover-abilities", "mcp-adapter-get-ability-info", "mcp-adapter-execute-ability"}
)
PROTOCOL_VERSION = "2025-06-18"
INITIALIZE = {
    "protocolVersion": PROTOCOL_VERSION,
    "capabilities": {},
    "clientInfo": {"name": "authz-e2e", "version": "1"},
}
INITIALIZE_REQUEST = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INITIALIZE}
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


def write_rules(
    directory: Path, *, tools: Mapping[str, Any] = {}, toolsets: Mapping[str, Any] = {}
) -> dict[str, str]:
    """The shipped rules with sections merged in (`{"abilities": {name: entry}}` adds or replaces
    entries); returns the config's `rules` section pointing at the copies."""
    paths = {}
    for name, patch in (("tools", tools), ("toolsets", toolsets)):
        data = yaml.safe_load((RULES_DIR / f"{name}.yaml").read_text())
        for section, value in patch.items():
            data[section] = {**data[section], **value} if isinstance(value, dict) else value
        path = directory / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data))
        paths[name] = str(path)
    return paths


@dataclass(frozen=True)
class Reply:
    status: int
    headers: CIMultiDictProxy[str]
    body: Any

    @property
    def code(self) -> str:
        """The stable refusal code of a JSON-RPC error answer."""
        return str(self.body["error"]["data"]["code"])

    @property
    def rpc_code(self) -> int:
        return int(self.body["error"]["code"])


async def read_reply(response: aiohttp.ClientResponse) -> Reply:
    text = await response.text()
    body = json.loads(text) if text and response.content_type == "application/json" else text or None
    return Reply(response.status, response.headers, body)


@dataclass
class Agent:
    """One credential speaking JSON-RPC to the sidecar's MCP endpoint (handshake era, raw HTTP)."""

    http: aiohttp.ClientSession
    url: str
    credential: dict[str, str]
    session_id: str | None = None
    _next_id: int = 0

    def headers(self, extra: Mapping[str, str] = {}) -> dict[str, str]:
        headers = {**JSON_HEADERS, **self.credential}
        if self.session_id is not None:
            headers["Mcp-Session-Id"] = self.session_id
            headers["MCP-Protocol-Version"] = PROTOCOL_VERSION
        return {**headers, **extra}

    async def post(self, body: Any, *, headers: Mapping[str, str] = {}) -> Reply:
        async with self.http.post(self.url, data=json.dumps(body), headers=self.headers(headers)) as response:
            return await read_reply(response)

    def request(self, method: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        self._next_id += 1
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": self._next_id, "method": method}
        if params is not None:
            message["params"] = dict(params)
        return message

    async def initialize(self) -> Reply:
        reply = await self.post(self.request("initialize", INITIALIZE))
        assert reply.status == 200, reply.body
        self.session_id = reply.headers["Mcp-Session-Id"]
        return reply

    async def call(self, method: str, params: Mapping[str, Any] | None = None) -> Reply:
        return await self.post(self.request(method, params))

    async def tools(self) -> set[str]:
        reply = await self.call("tools/list")
        assert reply.status == 200, reply.body
        return {tool["name"] for tool in reply.body["result"]["tools"]}

    async def abilities(self) -> set[str]:
        reply = await self.call("tools/call", discover_params())
        assert reply.status == 200, reply.body
        result = reply.body["result"]
        listed = {a["name"] for a in result["structuredContent"]["abilities"]}
        in_text = {a["name"] for a in json.loads(result["content"][0]["text"])["abilities"]}
        assert listed == in_text  # both copies of the list are filtered alike
        return listed

    async def execute(self, ability: str, parameters: Mapping[str, Any] | None = None) -> Reply:
        return await self.call("tools/call", execute_params(ability, parameters))


def discover_params() -> dict[str, Any]:
    return {"name": "mcp-adapter-discover-abilities", "arguments": {}}


def execute_params(ability: str, parameters: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": "mcp-adapter-execute-ability",
        "arguments": {"ability_name": ability, "parameters": dict(parameters or {})},
    }


@dataclass
class Guarded:
    """A sidecar in front of an upstream, with helpers to mint credentials for its site."""

    sc: RunningSidecar
    mcp_path: str = DEMO_MCP_PATH

    @property
    def mcp_url(self) -> str:
        return self.sc.url + self.mcp_path

    async def key(
        self, user: str, *, scopes: tuple[str, ...] = ALL_SCOPES, profile: str | None = None
    ) -> str:
        keys = self.sc.sidecar.services.identity.keys
        issued = await keys.issue("demo", user, label=f"{user} e2e", scopes=scopes, profile=profile)
        return issued.raw

    async def bearer(self, user: str, *, scopes: tuple[str, ...] = ALL_SCOPES) -> str:
        """An access token from the sidecar's own token endpoint (client credentials grant)."""
        record, secret = await self.sc.sidecar.services.identity.clients.add("demo", "e2e bot", user, scopes)
        assert secret is not None
        form = {"grant_type": "client_credentials", "client_id": record.client_id, "client_secret": secret}
        async with self.sc.http.post(self.sc.url + "/oauth/token", data=form) as response:
            assert response.status == 200, await response.text()
            return str((await response.json())["access_token"])

    def agent(self, credential: str | dict[str, str], *, query: str = "") -> Agent:
        headers = {"X-API-Key": credential} if isinstance(credential, str) else credential
        return Agent(self.sc.http, self.mcp_url + query, headers)

    async def session(
        self, user: str, *, scopes: tuple[str, ...] = ALL_SCOPES, profile: str | None = None, query: str = ""
    ) -> Agent:
        """An initialized agent for a new key of `user`."""
        agent = self.agent(await self.key(user, scopes=scopes, profile=profile), query=query)
        await agent.initialize()
        return agent


@asynccontextmanager
async def guarded(
    upstream: str | RunningDemo, *, top: Mapping[str, Any] = {}, **site: Any
) -> AsyncIterator[Guarded]:
    """A sidecar for site `demo` acting as the demo users, rate limits off (they have their own tests)."""
    if isinstance(upstream, RunningDemo):
        upstream.site.reset()
        upstream = upstream.url
    config = make_config(upstream, top={"rate_limits": {"enabled": False}, **top}, users=SITE_USERS, **site)
    async with running_sidecar(config) as sc:
        yield Guarded(sc, mcp_path=site.get("mcp_path", DEMO_MCP_PATH))


Handler = Callable[[web.Request, Any], Awaitable[web.StreamResponse]]


@dataclass
class FakeWordPress:
    """A WordPress-shaped aiohttp upstream: `users/me` for the demo users (role capabilities), and
    routes whose answers a test supplies. Records every request's headers and JSON body."""

    routes: dict[str, Handler]
    capabilities: dict[str, set[str]] = field(
        default_factory=lambda: {
            "admin": set(ROLE_CAPABILITIES["administrator"]) | {"administrator"},
            "editor": set(ROLE_CAPABILITIES["editor"]) | {"editor"},
            "subscriber": set(ROLE_CAPABILITIES["subscriber"]) | {"subscriber"},
        }
    )
    seen: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)
    url: str = ""

    def bodies(self, path: str) -> list[Any]:
        return [body for seen_path, _, body in self.seen if seen_path == path]

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        return app

    def _login(self, request: web.Request) -> str | None:
        credentials = parse_basic_auth(request.headers.get("Authorization"))
        if credentials is None or credentials[0] not in DEMO_APP_PASSWORDS:
            return None
        login, password = credentials
        good = normalize_app_password(DEMO_APP_PASSWORDS[login]) == normalize_app_password(password)
        return login if good else None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body = json.loads(raw) if raw else None
        self.seen.append((request.path, {k.lower(): v for k, v in request.headers.items()}, body))
        if request.path == "/wp-json/":
            return web.json_response({"namespaces": ["wp/v2", "mcp", "wp-loupe-mcp/v1"]})
        login = self._login(request)
        if login is None:
            data = {"code": "rest_forbidden", "message": "Sorry, you are not allowed to do that."}
            return web.json_response({**data, "data": {"status": 401}}, status=401)
        if request.path == "/wp-json/wp/v2/users/me":
            caps = dict.fromkeys(sorted(self.capabilities[login]), True)
            return web.json_response({"id": 1, "slug": login, "roles": [], "capabilities": caps})
        handler = self.routes.get(request.path)
        if handler is None:
            return web.json_response({"code": "rest_no_route", "data": {"status": 404}}, status=404)
        return await handler(request, body)


@asynccontextmanager
async def fake_wordpress(routes: dict[str, Handler]) -> AsyncIterator[FakeWordPress]:
    wordpress = FakeWordPress(routes)
    server = TestServer(wordpress.app(), host="127.0.0.1", port=0)
    await server.start_server()
    wordpress.url = str(server.make_url("")).rstrip("/")
    try:
        yield wordpress
    finally:
        await server.close()
