"""What the endpoint decides for every grant: client authentication, site, grant type, resource."""

from __future__ import annotations

import pytest

from proxy.identity.services import IdentityServices
from proxy.stores import ClientRecord
from tests.identity.factories import (
    AUDIENCE,
    OTHER_AUDIENCE,
    SITE,
    assert_token_error,
    assert_token_success,
    basic,
    token_request,
)

CC = {"grant_type": "client_credentials"}


@pytest.fixture
async def client(identity: IdentityServices) -> tuple[ClientRecord, str]:
    record, secret = await identity.clients.add(SITE, "ci bot", "editor", ["posts:read"])
    assert secret is not None
    return record, secret


async def test_unknown_grant_type(identity: IdentityServices, client: tuple[ClientRecord, str]) -> None:
    record, secret = client
    for grant_type in ("password", "implicit", "urn:ietf:params:oauth:grant-type:device_code"):
        response = await token_request(identity, {"grant_type": grant_type}, basic(record.client_id, secret))
        assert_token_error(response, "unsupported_grant_type")


async def test_missing_grant_type(identity: IdentityServices, client: tuple[ClientRecord, str]) -> None:
    record, secret = client
    assert_token_error(await token_request(identity, {}, basic(record.client_id, secret)), "invalid_request")


async def test_wrong_secret_with_basic_is_401_with_a_basic_challenge(
    identity: IdentityServices, client: tuple[ClientRecord, str]
) -> None:
    record, _ = client
    response = await token_request(identity, CC, basic(record.client_id, "wrong"))
    assert_token_error(response, "invalid_client", 401)
    assert response.headers["WWW-Authenticate"] == f'Basic realm="{SITE}", charset="UTF-8"'


async def test_wrong_secret_in_the_body_is_401_without_a_challenge(
    identity: IdentityServices, client: tuple[ClientRecord, str]
) -> None:
    record, _ = client
    params = {**CC, "client_id": record.client_id, "client_secret": "wrong"}
    response = await token_request(identity, params)
    assert_token_error(response, "invalid_client", 401)
    assert "WWW-Authenticate" not in response.headers


@pytest.mark.parametrize("client_id", ["mcpc_nobody", "x" * 300])
async def test_unknown_client(identity: IdentityServices, client_id: str) -> None:
    assert_token_error(await token_request(identity, CC, basic(client_id, "secret")), "invalid_client", 401)


async def test_malformed_basic_header(identity: IdentityServices) -> None:
    response = await token_request(identity, CC, "Basic %%%")
    assert_token_error(response, "invalid_client", 401)
    assert response.headers["WWW-Authenticate"].startswith("Basic ")


async def test_two_authentication_methods(
    identity: IdentityServices, client: tuple[ClientRecord, str]
) -> None:
    record, secret = client
    response = await token_request(identity, {**CC, "client_secret": secret}, basic(record.client_id, secret))
    assert_token_error(response, "invalid_request")


async def test_the_resource_picks_the_site_and_the_audience(
    identity: IdentityServices, client: tuple[ClientRecord, str]
) -> None:
    """One issuer for both sites: a request that reached the other site's Host gets a token for the site
    its `resource` names."""
    record, secret = client
    response = await token_request(
        identity, {**CC, "resource": AUDIENCE}, basic(record.client_id, secret), reached=OTHER_AUDIENCE
    )
    body = assert_token_success(response)
    claims = await identity.tokens.verify(body["access_token"], audience=AUDIENCE, site=SITE)
    assert claims["client_id"] == record.client_id


@pytest.mark.parametrize("resource", [OTHER_AUDIENCE, None])
async def test_a_confidential_client_gets_no_token_for_another_site(
    identity: IdentityServices, client: tuple[ClientRecord, str], resource: str | None
) -> None:
    """Named by `resource`, or the Host's site when none is named: invalid_target, never a token."""
    record, secret = client
    params = CC if resource is None else {**CC, "resource": resource}
    response = await token_request(identity, params, basic(record.client_id, secret), reached=OTHER_AUDIENCE)
    assert_token_error(response, "invalid_target")
    assert response.body["error_description"] == "This client may not get tokens for this resource."


async def test_grant_type_not_registered_for_the_client(
    identity: IdentityServices, client: tuple[ClientRecord, str]
) -> None:
    record, secret = client
    params = {"grant_type": "refresh_token", "refresh_token": "x"}
    assert_token_error(
        await token_request(identity, params, basic(record.client_id, secret)), "unauthorized_client"
    )


@pytest.mark.parametrize("resource", ["https://other.example/mcp", AUDIENCE + "/", AUDIENCE.upper()])
async def test_resource_must_be_this_server(
    identity: IdentityServices, client: tuple[ClientRecord, str], resource: str
) -> None:
    record, secret = client
    response = await token_request(identity, {**CC, "resource": resource}, basic(record.client_id, secret))
    assert_token_error(response, "invalid_target")


async def test_public_client_cannot_use_client_credentials(identity: IdentityServices) -> None:
    record, _ = await identity.clients.add(
        SITE,
        "app",
        "editor",
        ["posts:read"],
        public=True,
        redirect_uris=["https://app.example/cb"],
        grant_types=["authorization_code"],
    )
    response = await token_request(identity, {**CC, "client_id": record.client_id})
    assert_token_error(response, "unauthorized_client")


def test_grant_types_served(identity: IdentityServices) -> None:
    assert identity.token_endpoint.grant_types == (
        "client_credentials",
        "authorization_code",
        "refresh_token",
    )
