"""Shared pieces of the authorization-code end-to-end tests.

The sidecar listens on a socket bound before it is built, so its public URL (issuer, resource, the
callback WordPress redirects to) is the real one; WordPress pages reach the demo through it. The
site has no configured users: whatever reaches WordPress as a user comes from the OAuth flow.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import yaml
from aiohttp import web
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

from proxy.app import Sidecar, build_sidecar
from proxy.config import Config, load_config
from proxy.demo import DEMO_MCP_PATH, RunningDemo
from proxy.demo.users import parse_basic_auth
from proxy.identity.oauth.grants.authorization_code import s256_challenge
from tests.demo.browser import Browser, Page
from tests.factories import make_config_data

REDIRECT_URI = "http://127.0.0.1:9/callback"  # the client's loopback listener; never contacted
SCOPES = ("mcp.read", "content.read", "content.write", "users.read", "settings.write")


@dataclass
class OAuthSidecar:
    url: str
    sidecar: Sidecar
    http: aiohttp.ClientSession

    @property
    def mcp_url(self) -> str:
        return self.url + DEMO_MCP_PATH

    async def public_client(
        self, *, scopes: tuple[str, ...] = SCOPES, redirect_uri: str = REDIRECT_URI
    ) -> str:
        record, _ = await self.sidecar.services.identity.clients.add(
            "demo",
            "Test app",
            "",
            scopes,
            redirect_uris=[redirect_uri],
            grant_types=["authorization_code", "refresh_token"],
            public=True,
        )
        return record.client_id

    async def token(self, **form: str) -> tuple[int, dict[str, Any]]:
        async with self.http.post(self.url + "/oauth/token", data=form) as response:
            return response.status, await response.json()

    async def exchange(self, client_id: str, code: str, verifier: str) -> tuple[int, dict[str, Any]]:
        return await self.token(
            grant_type="authorization_code",
            code=code,
            redirect_uri=REDIRECT_URI,
            client_id=client_id,
            code_verifier=verifier,
            resource=self.mcp_url,
        )

    async def mcp(self, token: str, method: str, params: dict[str, Any] | None = None) -> tuple[int, Any]:
        """A new MCP session with `token`, then one request in it: (status, body) of the first refusal
        or of that request."""
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"}
        async with self.http.post(
            self.mcp_url, json=_rpc("initialize", INITIALIZE), headers=headers
        ) as response:
            if response.status != 200:
                return response.status, await response.json()
            headers["Mcp-Session-Id"] = response.headers["Mcp-Session-Id"]
        async with self.http.post(
            self.mcp_url, json=_rpc("notifications/initialized", None), headers=headers
        ) as response:
            assert response.status == 202
        async with self.http.post(self.mcp_url, json=_rpc(method, params or {}), headers=headers) as response:
            return response.status, await response.json()


INITIALIZE = {
    "protocolVersion": "2025-06-18",
    "capabilities": {},
    "clientInfo": {"name": "oauth-e2e", "version": "1"},
}


def _rpc(method: str, params: dict[str, Any] | None) -> dict[str, Any]:
    if params is None:
        return {"jsonrpc": "2.0", "method": method}
    return {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}


@asynccontextmanager
async def oauth_sidecar(
    demo: RunningDemo, *, top: dict[str, Any] | None = None, config_dir: Path | None = None
) -> AsyncIterator[OAuthSidecar]:
    """One site `demo` at http://127.0.0.1:PORT; its config is written to `config_dir` when given (so
    the CLI can use the same store and secrets)."""

    def data(base: str) -> dict[str, Any]:
        return {**make_config_data(demo.url, public_url=base, users={}), **(top or {})}

    async with sidecar_on_own_port(data, config_dir=config_dir) as running:
        yield running


@asynccontextmanager
async def sidecar_on_own_port(
    data: Callable[[str], dict[str, Any]], *, config_dir: Path | None = None
) -> AsyncIterator[OAuthSidecar]:
    """A sidecar whose config is `data(base URL)`, listening at that base URL (http://127.0.0.1:PORT)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    if config_dir is None:
        sidecar = build_sidecar(Config.model_validate(data(base)))
    else:
        config_path = config_dir / "config.yaml"
        config_path.write_text(yaml.safe_dump(data(base)), encoding="utf-8")
        sidecar = build_sidecar(load_config(config_path), config_path=config_path)
    runner = web.AppRunner(sidecar.public, access_log=None)  # as `serve` runs it: no query strings logged
    await runner.setup()
    await web.SockSite(runner, sock).start()
    try:
        async with aiohttp.ClientSession() as http:
            yield OAuthSidecar(base, sidecar, http)
    finally:
        await runner.cleanup()


@asynccontextmanager
async def browser() -> AsyncIterator[Browser]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        yield Browser(http)


def pkce() -> tuple[str, str]:
    """(verifier, S256 challenge)."""
    verifier = secrets.token_urlsafe(48)
    return verifier, s256_challenge(verifier)


def authorize_url(sc: OAuthSidecar, client: str, challenge: str, /, **params: str | None) -> str:
    """An authorization request as MCP clients send it; a parameter given as None is left out."""
    query: dict[str, str | None] = {
        "response_type": "code",
        "client_id": client,
        "redirect_uri": REDIRECT_URI,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "state-123",
        "scope": " ".join(SCOPES),
        "resource": sc.mcp_url,
        **params,
    }
    return f"{sc.url}/oauth/authorize?{urlencode({k: v for k, v in query.items() if v is not None})}"


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


async def consent(
    sc: OAuthSidecar,
    client_id: str,
    challenge: str,
    *,
    login: str,
    approve: bool = True,
    **params: str | None,
) -> dict[str, str]:
    """A fresh browser through the whole consent; the parameters the client's redirect URI gets."""
    async with browser() as person:
        landed = await person.approve(
            authorize_url(sc, client_id, challenge, **params),
            login=login,
            stop_at=REDIRECT_URI,
            approve=approve,
        )
    assert isinstance(landed, str), landed.text if isinstance(landed, Page) else landed
    return query_of(landed)


def upstream_passwords(demo: RunningDemo, login: str) -> set[str]:
    """The passwords the MCP requests that reached WordPress as `login` carried."""
    seen = set()
    for request in demo.site.requests:
        credentials = parse_basic_auth(request.headers.get("authorization"))
        if request.path == DEMO_MCP_PATH and credentials is not None and credentials[0] == login:
            seen.add(credentials[1])
    return seen


class MemoryTokenStorage:
    """The mcp SDK client's TokenStorage, in memory."""

    def __init__(self, client: OAuthClientInformationFull | None = None) -> None:
        self.tokens: OAuthToken | None = None
        self.client = client

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info
