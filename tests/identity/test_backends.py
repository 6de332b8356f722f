"""The key, token and OAuth flows once more against the persistent backends, SQLite and a real Redis,
including two replicas sharing one Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from proxy.errors import SidecarError
from proxy.identity.credentials import Credential
from proxy.identity.services import IdentityServices
from proxy.identity.settings import IdentitySettings
from proxy.stores import RedisStore, SqliteStore, Store
from tests.identity.factories import (
    AUDIENCE,
    ISSUER,
    PEPPER,
    REDIRECT_URI,
    SITE,
    FakeClock,
    assert_token_error,
    assert_token_success,
    authorize,
    basic,
    code_params,
    token_request,
)
from tests.stores.conftest import clean_redis_prefix  # noqa: F401 - the store tests' fixture, used here


@pytest.fixture(params=["sqlite", "redis"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    store: Store
    if request.param == "sqlite":
        store = SqliteStore(tmp_path / "identity.db")
    else:
        store = RedisStore(
            request.getfixturevalue("redis_url"), request.getfixturevalue("clean_redis_prefix")
        )
    await store.open()
    yield store
    await store.close()


def build(store: Store, clock: FakeClock) -> IdentityServices:
    return IdentityServices.build(store, IdentitySettings(), pepper=PEPPER, issuer=ISSUER, clock=clock)


async def test_api_key_flow(backend: Store, clock: FakeClock) -> None:
    identity = build(backend, clock)
    issued = await identity.keys.issue(SITE, "editor", label="ci", scopes=["posts:read"], ttl_hours=1)
    principal = await identity.authenticator.authenticate(
        Credential("api_key", issued.raw), site=SITE, audience=AUDIENCE
    )
    assert principal.id == issued.record.id
    assert await identity.keys.flush_last_used() == 1
    assert (await identity.keys.list(SITE))[0].last_used_at == clock.now
    await identity.keys.revoke(issued.record.id)
    with pytest.raises(SidecarError, match="invalid_token"):
        await identity.authenticator.authenticate(
            Credential("api_key", issued.raw), site=SITE, audience=AUDIENCE
        )


async def test_token_flow_with_rotation_and_revocation(backend: Store, clock: FakeClock) -> None:
    identity = build(backend, clock)
    record, secret = await identity.clients.add(SITE, "bot", "editor", ["posts:read"])
    assert secret is not None
    first = assert_token_success(
        await token_request(identity, {"grant_type": "client_credentials"}, basic(record.client_id, secret))
    )
    clock.advance(1)
    await identity.keyring.rotate()
    second = assert_token_success(
        await token_request(identity, {"grant_type": "client_credentials"}, basic(record.client_id, secret))
    )
    for body in (first, second):
        await identity.tokens.verify(body["access_token"], audience=AUDIENCE, site=SITE)
    assert len((await identity.keyring.jwks())["keys"]) == 2
    claims = await identity.tokens.verify(first["access_token"], audience=AUDIENCE, site=SITE)
    await identity.tokens.revoke(claims["jti"], claims["exp"])
    with pytest.raises(SidecarError):
        await identity.authenticator.authenticate(
            Credential("bearer", first["access_token"]), site=SITE, audience=AUDIENCE
        )
    await identity.tokens.revoke_all(site=SITE)
    with pytest.raises(SidecarError):
        await identity.authenticator.authenticate(
            Credential("bearer", second["access_token"]), site=SITE, audience=AUDIENCE
        )


async def test_code_and_refresh_flow(backend: Store, clock: FakeClock) -> None:
    identity = build(backend, clock)
    app, _ = await identity.clients.add(
        SITE,
        "app",
        "editor",
        ["posts:read"],
        public=True,
        redirect_uris=[REDIRECT_URI],
        grant_types=["authorization_code", "refresh_token"],
    )
    code = await authorize(identity, app)
    first = assert_token_success(await token_request(identity, code_params(app, code)))
    assert_token_error(await token_request(identity, code_params(app, code)), "invalid_grant")
    code = await authorize(identity, app)
    tokens = assert_token_success(await token_request(identity, code_params(app, code)))
    refresh = {
        "grant_type": "refresh_token",
        "client_id": app.client_id,
        "refresh_token": tokens["refresh_token"],
    }
    rotated = assert_token_success(await token_request(identity, refresh))
    assert_token_error(await token_request(identity, refresh), "invalid_grant")  # reuse: family revoked
    refresh["refresh_token"] = rotated["refresh_token"]
    assert_token_error(await token_request(identity, refresh), "invalid_grant")
    assert first["refresh_token"] != rotated["refresh_token"]


async def test_two_replicas_share_keys_and_revocations(
    request: pytest.FixtureRequest, redis_url: str, clock: FakeClock
) -> None:
    prefix = request.getfixturevalue("clean_redis_prefix")
    stores = [RedisStore(redis_url, prefix), RedisStore(redis_url, prefix)]
    for store in stores:
        await store.open()
    try:
        here, there = (build(store, clock) for store in stores)
        minted = await here.tokens.mint(
            site=SITE,
            audience=AUDIENCE,
            subject="c",
            client_id="c",
            scopes=[],
            ttl_hours=1,
            extra_claims={"wp_user": "bot"},
        )
        await there.authenticator.authenticate(
            Credential("bearer", minted.token), site=SITE, audience=AUDIENCE
        )
        issued = await there.keys.issue(SITE, "editor", label="x", scopes=[])
        await here.authenticator.authenticate(Credential("api_key", issued.raw), site=SITE, audience=AUDIENCE)
        await here.tokens.revoke(minted.claims["jti"], minted.claims["exp"])
        clock.advance(5)
        with pytest.raises(SidecarError):
            await there.authenticator.authenticate(
                Credential("bearer", minted.token), site=SITE, audience=AUDIENCE
            )
    finally:
        for store in stores:
            await store.close()
