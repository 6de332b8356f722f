from __future__ import annotations

import pytest

from proxy.identity.credentials import CredentialError
from proxy.identity.services import IdentityServices
from proxy.identity.settings import IdentitySettings
from proxy.stores import ClientRecord, Store
from tests.identity.factories import (
    AUDIENCE,
    ISSUER,
    PEPPER,
    SITE,
    FakeClock,
    assert_token_error,
    assert_token_success,
    basic,
    token_request,
)


@pytest.fixture
async def client(identity: IdentityServices) -> tuple[ClientRecord, str]:
    record, secret = await identity.clients.add(SITE, "ci bot", "editor", ["posts:read", "posts:write"])
    assert secret is not None
    return record, secret


async def test_basic_authentication_gets_a_bearer_token(
    identity: IdentityServices, client: tuple[ClientRecord, str]
) -> None:
    record, secret = client
    response = await token_request(
        identity, {"grant_type": "client_credentials"}, basic(record.client_id, secret)
    )
    body = assert_token_success(response)
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["expires_in"] == 3600
    assert body["scope"] == "posts:read posts:write"
    claims = await identity.tokens.verify(body["access_token"], audience=AUDIENCE, site=SITE)
    assert (claims["sub"], claims["client_id"], claims["wp_user"], claims["gty"]) == (
        record.client_id,
        record.client_id,
        "editor",
        "client_credentials",
    )


async def test_post_authentication_and_a_narrower_scope(
    identity: IdentityServices, client: tuple[ClientRecord, str]
) -> None:
    record, secret = client
    params = {
        "grant_type": "client_credentials",
        "client_id": record.client_id,
        "client_secret": secret,
        "scope": "posts:read",
        "resource": AUDIENCE,
    }
    body = assert_token_success(await token_request(identity, params))
    assert body["scope"] == "posts:read"


@pytest.mark.parametrize("scope", ["posts:read admin", "admin", "bad\\scope", " "])
async def test_scope_beyond_the_client_is_invalid_scope(
    identity: IdentityServices, client: tuple[ClientRecord, str], scope: str
) -> None:
    record, secret = client
    params = {"grant_type": "client_credentials", "scope": scope}
    assert_token_error(
        await token_request(identity, params, basic(record.client_id, secret)), "invalid_scope"
    )


async def test_ttl_zero_token_has_no_expires_in(store: Store, clock: FakeClock) -> None:
    identity = IdentityServices.build(
        store, IdentitySettings(access_token_ttl_hours=0), pepper=PEPPER, issuer=ISSUER, clock=clock
    )
    record, secret = await identity.clients.add(SITE, "bot", "editor", ["posts:read"])
    assert secret is not None
    body = assert_token_success(
        await token_request(identity, {"grant_type": "client_credentials"}, basic(record.client_id, secret))
    )
    assert "expires_in" not in body
    clock.advance(10 * 365 * 86400)
    await identity.tokens.verify(body["access_token"], audience=AUDIENCE, site=SITE)


async def test_token_expires_with_the_clock(
    identity: IdentityServices, client: tuple[ClientRecord, str], clock: FakeClock
) -> None:
    record, secret = client
    body = assert_token_success(
        await token_request(identity, {"grant_type": "client_credentials"}, basic(record.client_id, secret))
    )
    clock.advance(3600)
    with pytest.raises(CredentialError, match="expired"):
        await identity.tokens.verify(body["access_token"], audience=AUDIENCE, site=SITE)
