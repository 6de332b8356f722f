from __future__ import annotations

from typing import Any

import pytest

from proxy.identity.credentials import CredentialError
from proxy.identity.oauth.grants.refresh_token import RefreshTokenGrant
from proxy.identity.services import IdentityServices
from proxy.stores import ClientRecord, Store
from tests.identity.factories import (
    AUDIENCE,
    OTHER_AUDIENCE,
    REDIRECT_URI,
    SITE,
    FakeClock,
    assert_token_error,
    assert_token_success,
    authorize,
    code_params,
    token_request,
)


@pytest.fixture
async def app(identity: IdentityServices) -> ClientRecord:
    record, _ = await identity.clients.add(
        SITE,
        "desktop app",
        "editor",
        ["posts:read", "posts:write"],
        public=True,
        redirect_uris=[REDIRECT_URI],
        grant_types=["authorization_code", "refresh_token"],
    )
    return record


async def first_tokens(identity: IdentityServices, app: ClientRecord) -> dict[str, Any]:
    code = await authorize(identity, app, scopes=("posts:read", "posts:write"))
    return assert_token_success(await token_request(identity, code_params(app, code)))


def refresh_params(app: ClientRecord, refresh_token: str, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "refresh_token",
        "client_id": app.client_id,
        "refresh_token": refresh_token,
        **extra,
    }


async def test_refresh_rotates_the_refresh_token(identity: IdentityServices, app: ClientRecord) -> None:
    first = await first_tokens(identity, app)
    second = assert_token_success(await token_request(identity, refresh_params(app, first["refresh_token"])))
    assert second["refresh_token"] != first["refresh_token"]
    assert second["scope"] == "posts:read posts:write"
    claims = await identity.tokens.verify(second["access_token"], audience=AUDIENCE, site=SITE)
    first_claims = await identity.tokens.verify(first["access_token"], audience=AUDIENCE, site=SITE)
    assert (claims["sub"], claims["wp_user"], claims["gty"]) == ("alice", "alice", "refresh_token")
    assert claims["fid"] == first_claims["fid"]
    third = assert_token_success(await token_request(identity, refresh_params(app, second["refresh_token"])))
    assert third["refresh_token"] not in (first["refresh_token"], second["refresh_token"])


async def test_reusing_a_rotated_refresh_token_revokes_the_family(
    identity: IdentityServices, app: ClientRecord
) -> None:
    first = await first_tokens(identity, app)
    second = assert_token_success(await token_request(identity, refresh_params(app, first["refresh_token"])))
    assert_token_error(
        await token_request(identity, refresh_params(app, first["refresh_token"])), "invalid_grant"
    )
    assert_token_error(
        await token_request(identity, refresh_params(app, second["refresh_token"])), "invalid_grant"
    )
    for body in (first, second):
        with pytest.raises(CredentialError, match="revoked_all"):
            await identity.tokens.verify(body["access_token"], audience=AUDIENCE, site=SITE)


async def test_other_families_survive(identity: IdentityServices, app: ClientRecord) -> None:
    ours = await first_tokens(identity, app)
    theirs = await first_tokens(identity, app)
    await token_request(identity, refresh_params(app, ours["refresh_token"]))
    await token_request(identity, refresh_params(app, ours["refresh_token"]))  # reuse: ours revoked
    await identity.tokens.verify(theirs["access_token"], audience=AUDIENCE, site=SITE)
    assert_token_success(await token_request(identity, refresh_params(app, theirs["refresh_token"])))


async def test_scope_can_be_narrowed_not_widened(identity: IdentityServices, app: ClientRecord) -> None:
    first = await first_tokens(identity, app)
    narrowed = assert_token_success(
        await token_request(identity, refresh_params(app, first["refresh_token"], scope="posts:read"))
    )
    assert narrowed["scope"] == "posts:read"
    # the rotated refresh token still carries the whole original grant
    widened = await token_request(
        identity, refresh_params(app, narrowed["refresh_token"], scope="posts:write admin")
    )
    assert_token_error(widened, "invalid_scope")
    # a refused scope does not burn the refresh token
    again = assert_token_success(
        await token_request(identity, refresh_params(app, narrowed["refresh_token"]))
    )
    assert again["scope"] == "posts:read posts:write"


async def test_a_refresh_token_of_another_client_is_refused_and_revoked(
    identity: IdentityServices, app: ClientRecord
) -> None:
    thief, _ = await identity.clients.add(
        SITE,
        "thief",
        "editor",
        ["posts:read"],
        public=True,
        redirect_uris=[REDIRECT_URI],
        grant_types=["authorization_code", "refresh_token"],
    )
    first = await first_tokens(identity, app)
    assert_token_error(
        await token_request(identity, refresh_params(thief, first["refresh_token"])), "invalid_grant"
    )
    with pytest.raises(CredentialError, match="revoked_all"):
        await identity.tokens.verify(first["access_token"], audience=AUDIENCE, site=SITE)


async def test_refresh_token_expires(identity: IdentityServices, app: ClientRecord, clock: FakeClock) -> None:
    first = await first_tokens(identity, app)
    clock.advance(720 * 3600)
    assert_token_error(
        await token_request(identity, refresh_params(app, first["refresh_token"])), "invalid_grant"
    )


async def test_refresh_for_another_resource(identity: IdentityServices, app: ClientRecord) -> None:
    """Another site of the issuer, named by `resource` or by the Host when none is named: the refresh
    token is for its own audience only (and is not burnt by the wrong ask)."""
    first = await first_tokens(identity, app)
    refresh_token = first["refresh_token"]
    named = await token_request(identity, refresh_params(app, refresh_token, resource=OTHER_AUDIENCE))
    assert_token_error(named, "invalid_grant")
    hosted = await token_request(identity, refresh_params(app, refresh_token), reached=OTHER_AUDIENCE)
    assert_token_error(hosted, "invalid_grant")


@pytest.mark.parametrize("revoke", ["site", "client"])
async def test_revoke_all_kills_refresh_tokens_too(
    identity: IdentityServices, app: ClientRecord, revoke: str
) -> None:
    """Else a revoke-all would last only until the client refreshes."""
    first = await first_tokens(identity, app)
    if revoke == "site":
        await identity.tokens.revoke_all(site=SITE)
    else:
        await identity.tokens.revoke_all(client_id=app.client_id)
    response = await token_request(identity, refresh_params(app, first["refresh_token"]))
    assert_token_error(response, "invalid_grant")
    fresh = await first_tokens(identity, app)  # a new authorization starts a new life
    assert_token_success(await token_request(identity, refresh_params(app, fresh["refresh_token"])))


@pytest.mark.parametrize("refresh_token", ["OMIT", "unknown-handle"])
async def test_missing_or_unknown_refresh_token(
    identity: IdentityServices, app: ClientRecord, refresh_token: str
) -> None:
    params = refresh_params(app, refresh_token)
    if refresh_token == "OMIT":
        del params["refresh_token"]
    assert_token_error(
        await token_request(identity, params),
        "invalid_request" if refresh_token == "OMIT" else "invalid_grant",
    )


async def test_removed_client_cannot_refresh_and_its_tokens_die(
    identity: IdentityServices, app: ClientRecord, clock: FakeClock
) -> None:
    first = await first_tokens(identity, app)
    await identity.clients.remove(app.client_id)
    assert_token_error(
        await token_request(identity, refresh_params(app, first["refresh_token"])), "invalid_client", 401
    )
    clock.advance(5)  # the revocation cache time
    with pytest.raises(CredentialError, match="revoked_all"):
        await identity.tokens.verify(first["access_token"], audience=AUDIENCE, site=SITE)


@pytest.mark.parametrize("ttl", [0, -1, 1.5, True])
def test_refresh_lifetime_must_be_positive_hours(
    identity: IdentityServices, store: Store, ttl: object
) -> None:
    with pytest.raises(ValueError, match="refresh_ttl_hours"):
        RefreshTokenGrant(store, identity.tokens, access_ttl_hours=1, refresh_ttl_hours=ttl)  # type: ignore[arg-type]
