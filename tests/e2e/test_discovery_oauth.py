"""OAuth discovery over real sockets: RFC 9728 protected-resource metadata, RFC 8414 authorization-server
metadata and the JWKS, checked with the `mcp` SDK's own models, with pyjwt against minted tokens, and by
the SDK client finding its way from a 401 to a token and a successful MCP call."""

from __future__ import annotations

from typing import Any

import aiohttp
import httpx2
import jwt
import pytest
from mcp import Client
from mcp.client.auth.extensions.client_credentials import ClientCredentialsOAuthProvider
from mcp.client.auth.utils import (
    build_oauth_authorization_server_metadata_discovery_urls,
    build_protected_resource_metadata_discovery_urls,
)
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.auth import OAuthMetadata, ProtectedResourceMetadata

from proxy.config import Config
from proxy.demo import RunningDemo
from proxy.rules import load_rules
from tests.demo_upstream import demo_fixture
from tests.e2e.discovery_support import (
    AS_ROOT,
    DEMO_MCP_PATH,
    JWKS,
    PRM_ROOT,
    PRM_SUFFIXED,
    config_data,
    fetch,
    own_url,
    sidecar_at,
    site_config,
)
from tests.e2e.oauth_support import MemoryTokenStorage
from tests.factories import RULES_DIR
from tests.proxy_harness import RunningSidecar

pytestmark = pytest.mark.asyncio(loop_scope="module")

demo = demo_fixture()
PUBLIC = "https://blog.example"
SCOPES = sorted(load_rules(RULES_DIR / "tools.yaml", RULES_DIR / "toolsets.yaml").scopes)


async def test_protected_resource_metadata_root_and_path_suffixed(demo: RunningDemo) -> None:
    top = {"discovery": {"documentation_url": "https://blog.example/agents"}}
    async with sidecar_at(site_config(demo.url, public_url=PUBLIC, top=top)) as sc:
        suffixed = await fetch(sc, PRM_SUFFIXED)
        root = await fetch(sc, PRM_ROOT)
    assert suffixed.status == root.status == 200
    assert suffixed.body == root.body
    metadata = ProtectedResourceMetadata.model_validate_json(suffixed.body)
    document = suffixed.json()
    assert document["resource"] == PUBLIC + DEMO_MCP_PATH  # the canonical MCP URL: the token audience
    assert document["authorization_servers"] == [PUBLIC]
    assert document["scopes_supported"] == SCOPES
    assert document["bearer_methods_supported"] == ["header"]
    assert str(metadata.resource_documentation) == "https://blog.example/agents"


async def test_authorization_server_metadata(demo: RunningDemo) -> None:
    async with sidecar_at(site_config(demo.url, public_url=PUBLIC)) as sc:
        answer = await fetch(sc, AS_ROOT)
    assert answer.status == 200
    metadata = OAuthMetadata.model_validate_json(answer.body)
    document = answer.json()
    assert document["issuer"] == PUBLIC  # exactly the PRM's authorization server, compared as a string
    assert metadata.code_challenge_methods_supported == ["S256"]
    assert document["token_endpoint"] == PUBLIC + "/oauth/token"
    assert document["jwks_uri"] == PUBLIC + JWKS
    assert "client_credentials" in document["grant_types_supported"]
    assert document["scopes_supported"] == SCOPES


async def test_issuer_with_a_path_has_rfc_8414_path_metadata(demo: RunningDemo) -> None:
    """The first site lives under /blog, so the issuer is https://blog.example/blog: its metadata is
    at the host root with the issuer's path appended, where the SDK client looks first."""
    prefix_only: dict[str, Any] = {
        "hosts": ["127.0.0.1"],
        "path_prefix": "/blog",
        "public_url": PUBLIC + "/blog",
        "entitlement": {"source": "static", "require_namespace": None},  # the demo has no /blog
    }
    async with sidecar_at(site_config(demo.url, **prefix_only)) as sc:
        prm = await fetch(sc, PRM_ROOT + "/blog" + DEMO_MCP_PATH)
        issuer = prm.json()["authorization_servers"][0]
        first_choice = build_oauth_authorization_server_metadata_discovery_urls(issuer, PUBLIC)[0]
        path_form = await fetch(sc, first_choice.removeprefix(PUBLIC))
        jwks = await fetch(sc, path_form.json()["jwks_uri"].removeprefix(PUBLIC))
        token = await fetch(sc, path_form.json()["token_endpoint"].removeprefix(PUBLIC), method="POST")
    assert prm.json()["resource"] == PUBLIC + "/blog" + DEMO_MCP_PATH
    assert issuer == PUBLIC + "/blog"
    assert first_choice == PUBLIC + AS_ROOT + "/blog"
    assert path_form.status == 200
    assert OAuthMetadata.model_validate_json(path_form.body).issuer is not None
    assert path_form.json()["issuer"] == issuer
    assert jwks.status == 200
    assert token.json()["error"] == "invalid_request"  # the token endpoint is there (and wants a body)


async def _client_token(sc: RunningSidecar, site: str = "demo") -> tuple[str, str, str]:
    """A client of `site` (allowed every scope: the SDK asks for all of `scopes_supported` when the
    challenge names none) and an access token from the token endpoint: (client id, secret, token)."""
    record, secret = await sc.sidecar.services.identity.clients.add(site, "discovery-test", "editor", SCOPES)
    assert secret is not None
    async with sc.http.post(
        sc.url + "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "mcp.read"},
        headers={"Authorization": aiohttp.encode_basic_auth(record.client_id, secret)},
    ) as response:
        assert response.status == 200, await response.text()
        return record.client_id, secret, str((await response.json())["access_token"])


def _verify(token: str, jwks: dict[str, Any], *, audience: str, issuer: str) -> dict[str, Any]:
    """Check a token the way a third party would: only with the published JWK Set."""
    kid = jwt.get_unverified_header(token)["kid"]
    (key,) = [jwt.PyJWK(jwk) for jwk in jwks["keys"] if jwk["kid"] == kid]
    return jwt.decode(token, key.key, algorithms=["ES256"], audience=audience, issuer=issuer)


async def test_jwks_verifies_tokens_from_the_token_endpoint_across_rotation(demo: RunningDemo) -> None:
    async with sidecar_at(site_config(demo.url, public_url=PUBLIC)) as sc:
        keyring = sc.sidecar.services.identity.keyring
        before = await fetch(sc, JWKS)  # before any token: the signing key is published already
        _, _, token = await _client_token(sc)
        same = await fetch(sc, JWKS, headers={"If-None-Match": before.headers["ETag"]})
        old_kid = before.json()["keys"][0]["kid"]
        await keyring.rotate()
        rotated = await fetch(sc, JWKS, headers={"If-None-Match": before.headers["ETag"]})
        _, _, new_token = await _client_token(sc)
        await keyring.retire(old_kid)
        retired = await fetch(sc, JWKS)
    assert before.status == 200
    (published,) = before.json()["keys"]
    assert published["kty"] == "EC"
    assert published["alg"] == "ES256"
    assert published["use"] == "sig"
    assert "d" not in published  # never the private part
    claims = _verify(token, before.json(), audience=PUBLIC + DEMO_MCP_PATH, issuer=PUBLIC)
    assert claims["scope"] == "mcp.read"
    assert same.status == 304
    assert rotated.status == 200
    assert rotated.json()["keys"][0]["kid"] == old_kid  # oldest first
    assert len(rotated.json()["keys"]) == 2
    _verify(token, rotated.json(), audience=PUBLIC + DEMO_MCP_PATH, issuer=PUBLIC)
    assert jwt.get_unverified_header(new_token)["kid"] != old_kid
    _verify(new_token, rotated.json(), audience=PUBLIC + DEMO_MCP_PATH, issuer=PUBLIC)
    assert old_kid not in [key["kid"] for key in retired.json()["keys"]]
    with pytest.raises(ValueError, match="not enough values"):
        _verify(token, retired.json(), audience=PUBLIC + DEMO_MCP_PATH, issuer=PUBLIC)


async def _sdk_session(mcp_url: str, client_id: str, secret: str, issuer: str) -> tuple[list[str], list[str]]:
    """Connect with nothing but the MCP URL and client credentials; (tool names, requests sent)."""
    sent: list[str] = []

    async def record(request: httpx2.Request) -> None:
        sent.append(f"{request.method} {request.url}")

    provider = ClientCredentialsOAuthProvider(
        server_url=mcp_url,
        storage=MemoryTokenStorage(),
        client_id=client_id,
        client_secret=secret,
        issuer=issuer,
    )
    http_client = create_mcp_http_client(auth=provider)
    http_client.event_hooks["request"].append(record)
    async with (
        http_client,
        Client(streamable_http_client(mcp_url, http_client=http_client), mode="legacy") as client,
    ):
        tools = [tool.name for tool in (await client.list_tools()).tools]
    return tools, sent


async def test_sdk_client_finds_its_way_from_the_401(demo: RunningDemo) -> None:
    port, base = own_url()
    async with sidecar_at(site_config(demo.url, public_url=base), port=port) as sc:
        mcp_url = base + DEMO_MCP_PATH
        async with sc.http.post(mcp_url, json={}) as unauthenticated:
            assert unauthenticated.status == 401
            challenge = unauthenticated.headers["WWW-Authenticate"]
        client_id, secret, _ = await _client_token(sc)
        tools, sent = await _sdk_session(mcp_url, client_id, secret, issuer=base)
        # the SDK's fallbacks, had the header been missing, are served too
        fallbacks = build_protected_resource_metadata_discovery_urls(None, mcp_url)
        fallback_answers = [await fetch(sc, url.removeprefix(base)) for url in fallbacks]
    assert f'resource_metadata="{base}{PRM_SUFFIXED}"' in challenge
    assert sent[:4] == [
        f"POST {mcp_url}",  # answered 401 with the challenge
        f"GET {base}{PRM_SUFFIXED}",  # the resource_metadata of the challenge
        f"GET {base}{AS_ROOT}",  # the PRM's authorization server
        f"POST {base}/oauth/token",  # the AS metadata's token endpoint
    ]
    assert sent[4] == f"POST {mcp_url}"  # the retry, now with the token
    assert set(tools) == {
        "mcp-adapter-discover-abilities",
        "mcp-adapter-get-ability-info",
        "mcp-adapter-execute-ability",
    }
    assert [answer.status for answer in fallback_answers] == [200, 200]
    for answer in fallback_answers:
        assert str(ProtectedResourceMetadata.model_validate_json(answer.body).resource) == mcp_url


async def test_sdk_client_of_a_second_site_follows_the_one_issuer(demo: RunningDemo) -> None:
    port, base = own_url()
    second = f"http://localhost:{port}"
    data = config_data(demo.url, hosts=["127.0.0.1"], public_url=base)
    data["sites"]["second"] = {**data["sites"]["demo"], "hosts": ["localhost"], "public_url": second}
    async with sidecar_at(Config.model_validate(data), port=port) as sc:
        record, secret = await sc.sidecar.services.identity.clients.add("second", "bot", "editor", SCOPES)
        assert secret is not None
        tools, sent = await _sdk_session(second + DEMO_MCP_PATH, record.client_id, secret, issuer=base)
    assert f"GET {second}{PRM_SUFFIXED}" in sent
    assert f"POST {base}/oauth/token" in sent  # the one issuer's token endpoint
    assert tools
