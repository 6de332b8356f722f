from __future__ import annotations

from typing import Literal

import pytest

from proxy.errors import SidecarError
from proxy.identity.credentials import Credential, CredentialError
from proxy.identity.principal import Principal
from proxy.identity.services import IdentityServices
from tests.identity.factories import AUDIENCE, SITE, FakeClock


async def refused(
    identity: IdentityServices, credential: Credential, *, site: str = SITE, audience: str = AUDIENCE
) -> str:
    with pytest.raises(SidecarError) as caught:
        await identity.authenticator.authenticate(credential, site=site, audience=audience)
    error = caught.value
    assert (error.status, error.code, error.challenge) == (401, "invalid_token", True)
    assert error.message == "The access token is invalid, expired or revoked."
    assert error.data == {}
    assert error.headers == {}
    assert isinstance(error.__cause__, CredentialError)
    return error.__cause__.reason


@pytest.mark.parametrize("source", ["api_key", "bearer"])
async def test_api_key_by_header_or_bearer(
    identity: IdentityServices, source: Literal["api_key", "bearer"]
) -> None:
    issued = await identity.keys.issue(SITE, "editor", label="ci", scopes=["posts:read"], profile="reader")
    principal = await identity.authenticator.authenticate(
        Credential(source, issued.raw),
        site=SITE,
        audience=AUDIENCE,
        tier="partner",
    )
    assert principal == Principal(
        kind="api_key",
        id=issued.record.id,
        site=SITE,
        wp_user="editor",
        scopes=frozenset({"posts:read"}),
        profile="reader",
        tier="partner",
    )


async def test_client_token(identity: IdentityServices) -> None:
    minted = await identity.tokens.mint(
        site=SITE,
        audience=AUDIENCE,
        subject="c1",
        client_id="c1",
        scopes=["posts:read", "posts:write"],
        ttl_hours=1,
        extra_claims={"wp_user": "bot", "gty": "client_credentials"},
    )
    principal = await identity.authenticator.authenticate(
        Credential("bearer", minted.token), site=SITE, audience=AUDIENCE
    )
    assert principal == Principal(
        kind="oauth_client",
        id="c1",
        site=SITE,
        wp_user="bot",
        scopes=frozenset({"posts:read", "posts:write"}),
        profile=None,
        tier="authenticated",
        token_id=minted.claims["jti"],
    )


async def test_user_token(identity: IdentityServices) -> None:
    minted = await identity.tokens.mint(
        site=SITE,
        audience=AUDIENCE,
        subject="alice",
        client_id="app",
        scopes=[],
        ttl_hours=1,
        extra_claims={"wp_user": "alice", "gty": "authorization_code"},
    )
    principal = await identity.authenticator.authenticate(
        Credential("bearer", minted.token), site=SITE, audience=AUDIENCE
    )
    assert (principal.kind, principal.id, principal.wp_user, principal.scopes) == (
        "oauth_user",
        "app",
        "alice",
        frozenset(),
    )


async def test_api_key_of_another_site(identity: IdentityServices) -> None:
    issued = await identity.keys.issue("other", "editor", label="ci", scopes=[])
    assert await refused(identity, Credential("api_key", issued.raw)) == "other_site"


async def test_token_for_another_audience(identity: IdentityServices) -> None:
    minted = await identity.tokens.mint(
        site=SITE,
        audience="https://other.example/mcp",
        subject="c1",
        client_id="c1",
        scopes=[],
        ttl_hours=1,
        extra_claims={"wp_user": "bot"},
    )
    assert await refused(identity, Credential("bearer", minted.token)) == "wrong_audience"


async def test_token_without_wp_user(identity: IdentityServices) -> None:
    minted = await identity.tokens.mint(
        site=SITE, audience=AUDIENCE, subject="c1", client_id="c1", scopes=[], ttl_hours=1
    )
    assert await refused(identity, Credential("bearer", minted.token)) == "no_wp_user"


@pytest.mark.parametrize(
    ("credential", "reason"),
    [
        (Credential("api_key", "wpmcp_" + "a" * 43), "unknown"),
        (Credential("bearer", "wpmcp_" + "a" * 43), "unknown"),
        (Credential("api_key", "eyJhbGciOiJFUzI1NiJ9.e30.c2ln"), "malformed"),
        (Credential("bearer", "eyJhbGciOiJFUzI1NiJ9.e30.c2ln"), "wrong_algorithm_or_type"),
        (Credential("bearer", "opaque"), "malformed"),
    ],
)
async def test_every_failure_looks_the_same(
    identity: IdentityServices, credential: Credential, reason: str
) -> None:
    assert await refused(identity, credential) == reason


async def test_revoked_and_expired_keys(identity: IdentityServices, clock: FakeClock) -> None:
    revoked = await identity.keys.issue(SITE, "editor", label="a", scopes=[])
    expiring = await identity.keys.issue(SITE, "editor", label="b", scopes=[], ttl_hours=1)
    await identity.keys.revoke(revoked.record.id)
    clock.advance(3600)
    assert await refused(identity, Credential("api_key", revoked.raw)) == "revoked"
    assert await refused(identity, Credential("bearer", expiring.raw)) == "expired"


async def test_a_key_principal_is_built_once_per_key_record_and_tier(identity: IdentityServices) -> None:
    issued = await identity.keys.issue(SITE, "editor", label="ci", scopes=["posts:read"])
    credential = Credential("api_key", issued.raw)

    async def principal(tier: str) -> Principal:
        return await identity.authenticator.authenticate(credential, site=SITE, audience=AUDIENCE, tier=tier)

    first = await principal("authenticated")
    assert await principal("authenticated") is first
    partner = await principal("partner")
    assert partner.tier == "partner"
    assert partner is not first
    assert first.tier == "authenticated"  # the shared principal was not changed by the other tier
