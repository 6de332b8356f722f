"""One issuer for two sites, over real sockets, each site in front of its own demo WordPress.

Site `demo` is reached at http://127.0.0.1:PORT (its public URL is the issuer), site `second` at
http://localhost:PORT. The mcp SDK's own providers, given only a site's MCP URL, follow that site's
metadata to the one issuer; its token, registration and authorization endpoints serve the site named by
`resource`. Tokens are for one site only, and 401 challenges name the scopes a site needs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import httpx2
import jwt
import pytest
import pytest_asyncio
from mcp import Client
from mcp.client.auth import OAuthClientProvider, OAuthTokenError
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata
from pydantic import AnyUrl

from proxy.demo import DEMO_MCP_PATH, RunningDemo, start_demo_upstream
from proxy.demo.users import normalize_app_password
from tests.e2e.discovery_support import SITE_USERS
from tests.e2e.oauth_support import (
    INITIALIZE,
    REDIRECT_URI,
    MemoryTokenStorage,
    OAuthSidecar,
    browser,
    query_of,
    sidecar_on_own_port,
    upstream_passwords,
)
from tests.factories import make_config_data

pytestmark = pytest.mark.asyncio(loop_scope="module")

DISCOVER = "mcp-adapter-discover-abilities"
ALL_SCOPES = ["content.read", "content.write", "mcp.read", "settings.write", "users.read"]
SITE_SCOPES = "content.read content.write mcp.read users.read"  # default toolsets: read-only, content
READ_ONLY_SCOPES = "content.read mcp.read users.read"
EDITOR_ABILITIES = ["demo/create-post", "demo/get-post"]


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def demos() -> AsyncIterator[tuple[RunningDemo, RunningDemo]]:
    first, second = await start_demo_upstream(), await start_demo_upstream()
    yield first, second
    await first.close()
    await second.close()


def second_base(sc: OAuthSidecar) -> str:
    return sc.url.replace("127.0.0.1", "localhost")


@asynccontextmanager
async def two_sites(demos: tuple[RunningDemo, RunningDemo], **second: Any) -> AsyncIterator[OAuthSidecar]:
    """Both sites on one sidecar; `second` overrides settings of the second site."""
    for demo in demos:
        demo.site.reset()

    def data(base: str) -> dict[str, Any]:
        config = make_config_data(demos[0].url, hosts=["127.0.0.1"], public_url=base, users=SITE_USERS)
        config["sites"]["second"] = {
            "hosts": ["localhost"],
            "upstream": {"url": demos[1].url},
            "public_url": base.replace("127.0.0.1", "localhost"),
            "users": SITE_USERS,
            **second,
        }
        return config

    async with sidecar_on_own_port(data) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def sc(demos: tuple[RunningDemo, RunningDemo]) -> AsyncIterator[OAuthSidecar]:
    async with two_sites(demos) as running:
        yield running


class _Session:
    """What an SDK client did: the requests it sent (with their bodies) and what it discovered."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.bodies: dict[str, list[dict[str, str]]] = {}

    async def record(self, request: httpx2.Request) -> None:
        url = f"{request.method} {request.url.copy_with(query=None)}"
        self.sent.append(url)
        if request.method == "POST" and request.url.path.startswith("/oauth/"):
            form = parse_qs(request.content.decode())
            self.bodies.setdefault(url, []).append({name: values[0] for name, values in form.items()})


async def sdk_abilities(mcp_url: str, provider: OAuthClientProvider) -> tuple[list[str], _Session]:
    """Connect with nothing but the MCP URL and `provider`; the abilities discover-abilities lists."""
    session = _Session()
    http_client = create_mcp_http_client(auth=provider)
    http_client.event_hooks["request"].append(session.record)
    async with (
        http_client,
        Client(streamable_http_client(mcp_url, http_client=http_client), mode="legacy") as client,
    ):
        discovered = await client.call_tool(DISCOVER, {})
    assert discovered.structured_content is not None, discovered
    return sorted(a["name"] for a in discovered.structured_content["abilities"]), session


def client_credentials(
    sc: OAuthSidecar, mcp_url: str, client_id: str, secret: str, storage: MemoryTokenStorage
) -> ClientCredentialsOAuthProvider:
    return ClientCredentialsOAuthProvider(
        server_url=mcp_url, storage=storage, client_id=client_id, client_secret=secret, issuer=sc.url
    )


async def mcp_answer(
    sc: OAuthSidecar, mcp_url: str, headers: Mapping[str, str] | None = None
) -> aiohttp.ClientResponse:
    """An `initialize` at `mcp_url`; the response, read."""
    headers = {"Accept": "application/json, text/event-stream", **(headers or {})}
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INITIALIZE}
    async with sc.http.post(mcp_url, json=body, headers=headers) as response:
        await response.read()
        return response


def claims_of(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


async def test_client_credentials_clients_of_both_sites_use_the_one_issuer(
    sc: OAuthSidecar, demos: tuple[RunningDemo, RunningDemo]
) -> None:
    clients = sc.sidecar.services.identity.clients
    tokens: dict[str, str] = {}
    for site, base, demo in (("demo", sc.url, demos[0]), ("second", second_base(sc), demos[1])):
        assert not upstream_passwords(demo, "editor")  # each site's calls reach its own WordPress
        mcp_url = base + DEMO_MCP_PATH
        record, secret = await clients.add(site, "bot", "editor", ALL_SCOPES)
        assert secret is not None
        storage = MemoryTokenStorage()
        abilities, session = await sdk_abilities(
            mcp_url, client_credentials(sc, mcp_url, record.client_id, secret, storage)
        )
        assert abilities == EDITOR_ABILITIES
        token_request = f"POST {sc.url}/oauth/token"  # the issuer's endpoint, whichever site
        assert session.sent[:4] == [
            f"POST {mcp_url}",
            f"GET {base}/.well-known/oauth-protected-resource{DEMO_MCP_PATH}",
            f"GET {sc.url}/.well-known/oauth-authorization-server",
            token_request,
        ]
        (form,) = session.bodies[token_request]
        assert (form["resource"], form["scope"]) == (mcp_url, SITE_SCOPES)
        assert storage.tokens is not None
        tokens[site] = storage.tokens.access_token
        claims = claims_of(tokens[site])
        assert (claims["iss"], claims["aud"], claims["site"]) == (sc.url, mcp_url, site)
        assert upstream_passwords(demo, "editor") == {SITE_USERS["editor"]["app_password"]}
    # A token of one site is refused on the other.
    for token, elsewhere in ((tokens["demo"], second_base(sc)), (tokens["second"], sc.url)):
        refused = await mcp_answer(sc, elsewhere + DEMO_MCP_PATH, {"Authorization": f"Bearer {token}"})
        assert refused.status == 401


async def test_a_confidential_client_gets_tokens_for_its_own_site_only(sc: OAuthSidecar) -> None:
    record, secret = await sc.sidecar.services.identity.clients.add("second", "bot", "editor", ALL_SCOPES)
    assert secret is not None
    auth = {"Authorization": aiohttp.encode_basic_auth(record.client_id, secret)}
    first, second = sc.url + DEMO_MCP_PATH, second_base(sc) + DEMO_MCP_PATH
    answers = []
    for url, resource in ((sc.url, second), (sc.url, first), (sc.url, None), (second_base(sc), None)):
        form = {"grant_type": "client_credentials", **({"resource": resource} if resource else {})}
        async with sc.http.post(url + "/oauth/token", data=form, headers=auth) as response:
            answers.append((response.status, (await response.json()).get("error")))
    # named second / named first / the Host's site (the first) / the Host's site (the second)
    assert answers == [(200, None), (400, "invalid_target"), (400, "invalid_target"), (200, None)]


async def test_authorization_code_for_the_second_site_then_the_first_with_one_registration(
    sc: OAuthSidecar, demos: tuple[RunningDemo, RunningDemo]
) -> None:
    """The SDK registers at the issuer, the user approves at the second site's WordPress, the code and
    token are for the second site. The same registration then serves the first site."""
    first_demo, second_demo = demos
    landings: list[str] = []
    visits: list[list[str]] = []

    async def redirect_handler(url: str) -> None:
        async with browser() as person:
            landed = await person.approve(url, login="editor", stop_at=REDIRECT_URI)
        assert isinstance(landed, str), landed
        landings.append(landed)
        visits.append(person.visited)

    async def callback_handler() -> AuthorizationCodeResult:
        params = query_of(landings[-1])
        return AuthorizationCodeResult(code=params["code"], state=params.get("state"), iss=params.get("iss"))

    def provider(mcp_url: str, storage: MemoryTokenStorage) -> OAuthClientProvider:
        metadata = OAuthClientMetadata(
            redirect_uris=[AnyUrl(REDIRECT_URI)], client_name="SDK client", token_endpoint_auth_method="none"
        )
        return OAuthClientProvider(
            server_url=mcp_url,
            client_metadata=metadata,
            storage=storage,
            redirect_handler=redirect_handler,
            callback_handler=callback_handler,
        )

    second_mcp = second_base(sc) + DEMO_MCP_PATH
    second_storage = MemoryTokenStorage()
    abilities, session = await sdk_abilities(second_mcp, provider(second_mcp, second_storage))
    assert abilities == EDITOR_ABILITIES
    assert f"POST {sc.url}/oauth/register" in session.sent
    (authorize, *_) = visits[-1]
    assert authorize.startswith(sc.url + "/oauth/authorize?")
    assert query_of(authorize)["resource"] == second_mcp
    assert any(v.startswith(second_base(sc) + "/wp-admin/authorize-application.php") for v in visits[-1])
    assert any(v.startswith(sc.url + "/oauth/callback?") for v in visits[-1])  # back where it began
    (form,) = session.bodies[f"POST {sc.url}/oauth/token"]
    assert form["resource"] == second_mcp
    assert second_storage.tokens is not None
    assert claims_of(second_storage.tokens.access_token)["site"] == "second"
    # The second WordPress made the password and got it; the first made none.
    made = second_demo.site.app_passwords("editor")[-1]
    assert made.name == "SDK client (MCP, 127.0.0.1)"
    assert {normalize_app_password(p) for p in upstream_passwords(second_demo, "editor")} == {made.password}
    assert len(first_demo.site.app_passwords("editor")) == 1  # only the one made at install

    first_mcp = sc.url + DEMO_MCP_PATH
    first_storage = MemoryTokenStorage(client=second_storage.client)  # registered once, at the issuer
    abilities, session = await sdk_abilities(first_mcp, provider(first_mcp, first_storage))
    assert abilities == EDITOR_ABILITIES
    assert f"POST {sc.url}/oauth/register" not in session.sent
    assert first_demo.site.app_passwords("editor")[-1].name == "SDK client (MCP, 127.0.0.1)"
    assert first_storage.tokens is not None
    assert claims_of(first_storage.tokens.access_token)["site"] == "demo"
    bearer = {"Authorization": f"Bearer {first_storage.tokens.access_token}"}
    assert (await mcp_answer(sc, second_mcp, bearer)).status == 401


def challenge_scope(response: aiohttp.ClientResponse) -> str | None:
    header = response.headers["WWW-Authenticate"]
    marker = 'scope="'
    return header[header.index(marker) + len(marker) :].split('"', 1)[0] if marker in header else None


async def test_challenges_name_the_scopes_of_what_the_site_offers_at_that_url(
    demos: tuple[RunningDemo, RunningDemo],
) -> None:
    async with two_sites(demos, toolsets=["read-only"]) as sc:
        first, second = sc.url + DEMO_MCP_PATH, second_base(sc) + DEMO_MCP_PATH
        answers = [
            await mcp_answer(sc, first),
            await mcp_answer(sc, first, {"Authorization": "Bearer not-a-token"}),
            await mcp_answer(sc, first + "?toolset=read-only"),
            await mcp_answer(sc, first + "?toolset=nonsense"),
            await mcp_answer(sc, second),
        ]
    assert [answer.status for answer in answers] == [401] * 5
    assert [challenge_scope(answer) for answer in answers] == [
        SITE_SCOPES,
        SITE_SCOPES,  # an invalid token too: the client asks again for what it needs
        READ_ONLY_SCOPES,
        SITE_SCOPES,
        READ_ONLY_SCOPES,  # the second site offers only read-only
    ]
    assert 'error="invalid_token"' in answers[1].headers["WWW-Authenticate"]


async def test_a_client_allowed_fewer_scopes_connects_with_the_sdk(
    demos: tuple[RunningDemo, RunningDemo],
) -> None:
    """The SDK asks for the challenge's scopes, not for every scope the metadata lists, so a client
    registered with fewer scopes than the rules define gets its token: on a site that offers no more,
    or at a URL narrowed to what it may use. Asked for more than it may have, it still gets none."""
    narrow = ["mcp.read", "content.read", "users.read"]
    async with two_sites(demos, toolsets=["read-only"]) as sc:
        clients = sc.sidecar.services.identity.clients
        cases = [
            ("second", second_base(sc) + DEMO_MCP_PATH),
            ("demo", sc.url + DEMO_MCP_PATH + "?toolset=read-only"),
        ]
        for site, mcp_url in cases:
            record, secret = await clients.add(site, "reader", "editor", narrow)
            assert secret is not None
            storage = MemoryTokenStorage()
            abilities, _ = await sdk_abilities(
                mcp_url, client_credentials(sc, mcp_url, record.client_id, secret, storage)
            )
            assert abilities == ["demo/get-post"]
            assert storage.tokens is not None
            assert storage.tokens.scope == READ_ONLY_SCOPES
        record, secret = await clients.add("demo", "reader", "editor", narrow)
        assert secret is not None
        mcp_url = sc.url + DEMO_MCP_PATH  # offers content.write too
        with pytest.raises(ExceptionGroup) as refused:  # the SDK's task groups wrap it
            await sdk_abilities(
                mcp_url, client_credentials(sc, mcp_url, record.client_id, secret, MemoryTokenStorage())
            )
    assert refused.group_contains(OAuthTokenError, match="invalid_scope")
