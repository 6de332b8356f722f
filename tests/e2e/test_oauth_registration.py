"""Dynamic client registration and the metadata that advertises the authorization endpoint, over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from mcp.shared.auth import OAuthClientInformationFull, OAuthMetadata
from prometheus_client import generate_latest

from proxy.demo import RunningDemo
from tests.demo_upstream import demo_fixture
from tests.e2e.oauth_support import REDIRECT_URI, OAuthSidecar, authorize_url, oauth_sidecar, pkce

pytestmark = pytest.mark.asyncio(loop_scope="module")

AS_METADATA = "/.well-known/oauth-authorization-server"


demo = demo_fixture()


@pytest_asyncio.fixture(loop_scope="module")
async def sc(demo: RunningDemo) -> AsyncIterator[OAuthSidecar]:
    async with oauth_sidecar(demo) as running:
        yield running


async def register(sc: OAuthSidecar, body: Any, **kwargs: Any) -> tuple[int, Any, dict[str, str]]:
    async with sc.http.post(sc.url + "/oauth/register", json=body, **kwargs) as response:
        payload = await response.json() if response.content_type == "application/json" else None
        return response.status, payload, dict(response.headers)


async def test_metadata_advertises_registration_and_iss(sc: OAuthSidecar) -> None:
    async with sc.http.get(sc.url + AS_METADATA) as response:
        document = await response.json()
    metadata = OAuthMetadata.model_validate(document)
    assert document["authorization_endpoint"] == sc.url + "/oauth/authorize"
    assert document["registration_endpoint"] == sc.url + "/oauth/register"
    assert metadata.authorization_response_iss_parameter_supported is True
    assert "authorization_code" in document["grant_types_supported"]


async def test_a_registered_client_can_start_the_flow(sc: OAuthSidecar) -> None:
    status, document, headers = await register(
        sc, {"redirect_uris": [REDIRECT_URI], "client_name": "Claude", "scope": "mcp.read content.read"}
    )
    assert status == 201
    assert headers["Cache-Control"] == "no-store"
    info = OAuthClientInformationFull.model_validate(document)
    assert info.token_endpoint_auth_method == "none"
    assert info.scope == "mcp.read content.read"
    url = authorize_url(sc, info.client_id, pkce()[1], scope="mcp.read")
    async with sc.http.get(url, allow_redirects=False) as response:
        assert response.status == 302
        assert response.headers["Location"].startswith(sc.url + "/wp-admin/authorize-application.php?")
        assert "app_name=Claude+%28MCP%2C+127.0.0.1%29" in response.headers["Location"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"redirect_uris": ["http://app.example/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": [REDIRECT_URI], "grant_types": ["client_credentials"]}, "invalid_client_metadata"),
        ([REDIRECT_URI], "invalid_client_metadata"),
    ],
)
async def test_refusals_are_rfc_7591_errors(sc: OAuthSidecar, body: Any, error: str) -> None:
    status, document, _ = await register(sc, body)
    assert (status, document["error"]) == (400, error)


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        (b'{"redirect_uris": ["http://127.0.0.1:9/cb"], "redirect_uris": []}', "application/json", 400),
        (b"[" * 100 + b"]" * 100, "application/json", 400),
        (b"\xff\xfe", "application/json", 400),
        (b"redirect_uris=x", "application/x-www-form-urlencoded", 415),
        (b"{" + b" " * 20000 + b"}", "application/json", 413),
    ],
    ids=["duplicate-key", "deep", "not-utf8", "form", "oversized"],
)
async def test_bodies_are_read_strictly(
    sc: OAuthSidecar, data: bytes, content_type: str, status: int
) -> None:
    async with sc.http.post(
        sc.url + "/oauth/register", data=data, headers={"Content-Type": content_type}
    ) as response:
        assert response.status == status


async def test_registration_answers_post_only(sc: OAuthSidecar) -> None:
    async with sc.http.get(sc.url + "/oauth/register") as response:
        assert response.status == 405
        assert response.headers["Allow"] == "POST"


async def test_registration_can_be_turned_off(demo: RunningDemo) -> None:
    async with oauth_sidecar(demo, top={"identity": {"dynamic_client_registration": False}}) as sc:
        status, _, _ = await register(sc, {"redirect_uris": [REDIRECT_URI]})
        async with sc.http.get(sc.url + AS_METADATA) as response:
            document = await response.json()
    assert status == 404
    assert "registration_endpoint" not in document
    assert document["authorization_endpoint"] == sc.url + "/oauth/authorize"


REGISTRATION_LIMITS = {
    "rate_limits": {
        "registration": {"requests": 2, "per_seconds": 3600},
        "trusted_proxies": ["127.0.0.1/32"],
    }
}
CLAUDE = {"redirect_uris": [REDIRECT_URI], "client_name": "Claude"}


async def test_registrations_are_limited_per_client_address(demo: RunningDemo) -> None:
    """Anyone may register and each registration is a write: a flood from one address is refused
    before its body is read, while other addresses (behind a trusted proxy) still register."""
    async with oauth_sidecar(demo, top=REGISTRATION_LIMITS) as sc:
        statuses = [(await register(sc, CLAUDE))[0] for _ in range(2)]
        status, document, headers = await register(sc, CLAUDE)
        other = await register(sc, CLAUDE, headers={"X-Forwarded-For": "203.0.113.7"})
        clients = await sc.sidecar.services.identity.clients.list("demo")
        metrics = generate_latest(sc.sidecar.services.metrics.registry).decode()
    assert statuses == [201, 201]
    assert status == 429
    assert document["error"] == "rate_limited"  # the OAuth dialect (RFC 6749 error object)
    assert int(headers["Retry-After"]) >= 1
    assert headers["RateLimit-Policy"] == '"registration";q=2;w=3600'
    assert other[0] == 201
    assert len(clients) == 3  # the refused one wrote nothing
    assert 'tier="registration"' in metrics


async def test_garbage_counts_against_the_limit_too(demo: RunningDemo) -> None:
    async with oauth_sidecar(demo, top=REGISTRATION_LIMITS) as sc:
        refusals = [(await register(sc, {"redirect_uris": ["nope"]}))[0] for _ in range(2)]
        assert refusals == [400, 400]
        assert (await register(sc, CLAUDE))[0] == 429


async def test_limits_off_leave_registration_unlimited(demo: RunningDemo) -> None:
    top = {"rate_limits": {"enabled": False, "registration": {"requests": 1, "per_seconds": 3600}}}
    async with oauth_sidecar(demo, top=top) as sc:
        assert [(await register(sc, CLAUDE))[0] for _ in range(3)] == [201, 201, 201]
