from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from proxy.identity.credentials import CredentialError
from proxy.identity.signing import KeyRing
from proxy.identity.tokens import MintedToken, TokenService
from proxy.stores import MemoryStore, Store
from tests.identity.factories import AUDIENCE, ISSUER, SITE, FakeClock


@pytest.fixture
def keyring(store: Store, clock: FakeClock) -> KeyRing:
    return KeyRing(store, clock=clock)


@pytest.fixture
def tokens(store: Store, keyring: KeyRing, clock: FakeClock) -> TokenService:
    return TokenService(store, keyring, issuer=ISSUER, clock=clock)


async def mint(tokens: TokenService, **overrides: Any) -> MintedToken:
    options: dict[str, Any] = {
        "site": SITE,
        "audience": AUDIENCE,
        "subject": "client-1",
        "client_id": "client-1",
        "scopes": ["posts:read", "posts:write"],
        "ttl_hours": 1,
    }
    options.update(overrides)
    return await tokens.mint(**options)


async def refused(tokens: TokenService, token: str, *, audience: str = AUDIENCE, site: str = SITE) -> str:
    with pytest.raises(CredentialError) as caught:
        await tokens.verify(token, audience=audience, site=site)
    return caught.value.reason


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], claims: dict[str, Any], sign: Any) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(sign(signing_input.encode()))}"


async def test_minted_token_carries_the_claims(
    tokens: TokenService, keyring: KeyRing, clock: FakeClock
) -> None:
    minted = await mint(tokens, extra_claims={"wp_user": "editor"})
    now = int(clock.now)
    header = jwt.get_unverified_header(minted.token)
    assert header == {"alg": "ES256", "typ": "at+jwt", "kid": (await keyring.signing_key()).kid}
    claims = await tokens.verify(minted.token, audience=AUDIENCE, site=SITE)
    assert claims == minted.claims
    assert {
        key: claims[key] for key in ("iss", "sub", "aud", "iat", "exp", "scope", "client_id", "site")
    } == {
        "iss": ISSUER,
        "sub": "client-1",
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 3600,
        "scope": "posts:read posts:write",
        "client_id": "client-1",
        "site": SITE,
    }
    assert claims["epochs"] == {f"site:{SITE}": 0, "client:client-1": 0}
    assert claims["wp_user"] == "editor"
    assert minted.expires_in == 3600
    assert claims["jti"] != (await mint(tokens)).claims["jti"]
    assert re.fullmatch("[0-9a-f]{32}", claims["jti"])  # never "-...": the CLI takes it as an argument


async def test_expiry(tokens: TokenService, clock: FakeClock) -> None:
    minted = await mint(tokens, ttl_hours=2)
    clock.advance(2 * 3600 - 1)
    await tokens.verify(minted.token, audience=AUDIENCE, site=SITE)
    clock.advance(1)
    assert await refused(tokens, minted.token) == "expired"


async def test_ttl_zero_has_no_exp_and_lives_until_revoked(tokens: TokenService, clock: FakeClock) -> None:
    minted = await mint(tokens, ttl_hours=0)
    assert "exp" not in minted.claims
    assert minted.expires_in is None
    clock.advance(5 * 365 * 86400)
    await tokens.verify(minted.token, audience=AUDIENCE, site=SITE)
    await tokens.revoke(minted.claims["jti"], None)
    assert await refused(tokens, minted.token) == "revoked"


@pytest.mark.parametrize("ttl", [-1, 169, 2.0, None])
async def test_bad_ttl(tokens: TokenService, ttl: object) -> None:
    with pytest.raises(ValueError, match="ttl_hours"):
        await mint(tokens, ttl_hours=ttl)


@pytest.mark.parametrize("claim", ["aud", "exp", "sub", "epochs", "site"])
async def test_extra_claims_cannot_override_reserved_ones(tokens: TokenService, claim: str) -> None:
    with pytest.raises(ValueError, match="may not set"):
        await mint(tokens, extra_claims={claim: "x"})


async def test_wrong_audience(tokens: TokenService) -> None:
    minted = await mint(tokens)
    assert await refused(tokens, minted.token, audience="https://other.example/mcp") == "wrong_audience"


async def test_wrong_site(tokens: TokenService) -> None:
    minted = await mint(tokens)
    assert await refused(tokens, minted.token, site="other") == "wrong_site"


async def test_wrong_issuer(store: Store, keyring: KeyRing, tokens: TokenService, clock: FakeClock) -> None:
    other = TokenService(store, keyring, issuer="https://evil.example", clock=clock)
    minted = await mint(other)
    assert await refused(tokens, minted.token) == "wrong_issuer"


async def test_tampered_signature_and_payload(tokens: TokenService) -> None:
    minted = await mint(tokens)
    header, payload, signature = minted.token.split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    assert await refused(tokens, f"{header}.{payload}.{flipped}") == "bad_signature"
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["scope"] = "admin"
    assert (
        await refused(tokens, f"{header}.{b64(json.dumps(claims).encode())}.{signature}") == "bad_signature"
    )


async def test_unknown_kid_from_another_store(tokens: TokenService, clock: FakeClock) -> None:
    elsewhere = TokenService(MemoryStore(), KeyRing(MemoryStore()), issuer=ISSUER, clock=clock)
    minted = await mint(elsewhere)
    assert await refused(tokens, minted.token) == "unknown_kid"


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "a.b", "....", "eyJhbGciOiJFUzI1NiJ9"])
async def test_garbage(tokens: TokenService, token: str) -> None:
    assert await refused(tokens, token) == "malformed"


async def test_alg_none_is_refused(tokens: TokenService) -> None:
    claims = (await mint(tokens)).claims
    kid = jwt.get_unverified_header((await mint(tokens)).token)["kid"]
    token = forge({"alg": "none", "typ": "at+jwt", "kid": kid}, claims, lambda _: b"")
    assert await refused(tokens, token) == "wrong_algorithm_or_type"
    token = forge({"alg": "ES256", "typ": "at+jwt", "kid": kid}, claims, lambda _: b"")
    assert await refused(tokens, token) == "bad_signature"


async def test_hs256_signed_with_the_public_key_is_refused(tokens: TokenService, keyring: KeyRing) -> None:
    claims = (await mint(tokens)).claims
    key = await keyring.signing_key()
    public_pem = key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for header in (
        {"alg": "HS256", "typ": "at+jwt", "kid": key.kid},
        {"alg": "ES256", "typ": "at+jwt", "kid": key.kid},  # claims ES256, carries an HMAC
    ):
        token = forge(header, claims, lambda data: hmac.new(public_pem, data, hashlib.sha256).digest())
        assert await refused(tokens, token) in {"wrong_algorithm_or_type", "bad_signature"}


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ({"alg": "ES256", "typ": "at+jwt", "kid": "KID"}, None),
        ({"alg": "ES256", "typ": "at+jwt"}, "unknown_kid"),
        ({"alg": "ES256", "typ": "at+jwt", "kid": "other"}, "unknown_kid"),
        ({"alg": "ES256", "typ": "at+jwt", "kid": 7}, "malformed"),
        ({"alg": "ES256", "kid": "KID"}, "wrong_algorithm_or_type"),
        ({"alg": "ES256", "typ": "JWT", "kid": "KID"}, "wrong_algorithm_or_type"),
        ({"alg": "ES384", "typ": "at+jwt", "kid": "KID"}, "wrong_algorithm_or_type"),
    ],
)
async def test_header_must_name_a_known_kid_and_our_type(
    tokens: TokenService, keyring: KeyRing, header: dict[str, Any], reason: str | None
) -> None:
    key = await keyring.signing_key()
    header = {name: key.kid if value == "KID" else value for name, value in header.items()}
    sign = jwt.get_algorithm_by_name("ES256").sign
    token = forge(header, (await mint(tokens)).claims, lambda data: sign(data, key.private_key))
    if reason is None:
        await tokens.verify(token, audience=AUDIENCE, site=SITE)
    else:
        assert await refused(tokens, token) == reason


@pytest.mark.parametrize(
    "change",
    [
        {"epochs": None},
        {"epochs": {}},
        {"epochs": {f"site:{SITE}": "0", "client:client-1": 0}},
        {"epochs": {f"site:{SITE}": 0}},
        {"scope": ["posts:read"]},
        {"client_id": None},
        {"jti": 5},
        {"exp": "never"},
        {"exp": True},
        {"exp": float("nan")},
        {"fid": 3},
    ],
)
async def test_well_signed_but_ill_formed_claims_are_refused(
    tokens: TokenService, keyring: KeyRing, change: dict[str, Any]
) -> None:
    claims = {**(await mint(tokens)).claims, **change}
    key = await keyring.signing_key()
    token = jwt.encode(claims, key.private_key, algorithm="ES256", headers={"kid": key.kid, "typ": "at+jwt"})
    assert await refused(tokens, token) == "malformed_claims"


async def test_revoke_one_token(tokens: TokenService) -> None:
    first, second = await mint(tokens), await mint(tokens)
    await tokens.verify(first.token, audience=AUDIENCE, site=SITE)
    await tokens.revoke(first.claims["jti"], first.claims["exp"])
    assert await refused(tokens, first.token) == "revoked"
    await tokens.verify(second.token, audience=AUDIENCE, site=SITE)


async def test_revocation_reaches_another_replica_after_the_cache_time(
    store: Store, keyring: KeyRing, clock: FakeClock
) -> None:
    here = TokenService(store, keyring, issuer=ISSUER, clock=clock, revocation_cache_seconds=5)
    there = TokenService(
        store, KeyRing(store, clock=clock), issuer=ISSUER, clock=clock, revocation_cache_seconds=5
    )
    minted = await mint(here)
    await there.verify(minted.token, audience=AUDIENCE, site=SITE)  # cached as live there
    await here.revoke(minted.claims["jti"], minted.claims["exp"])
    assert await refused(here, minted.token) == "revoked"
    await there.verify(minted.token, audience=AUDIENCE, site=SITE)
    clock.advance(5)
    assert await refused(there, minted.token) == "revoked"


async def test_revoke_all_of_a_site(tokens: TokenService, clock: FakeClock) -> None:
    old = await mint(tokens)
    other_site = await mint(tokens, site="other")
    await tokens.revoke_all(site=SITE)
    assert await refused(tokens, old.token) == "revoked_all"
    fresh = await mint(tokens)
    assert fresh.claims["epochs"][f"site:{SITE}"] == 1
    await tokens.verify(fresh.token, audience=AUDIENCE, site=SITE)
    await tokens.verify(other_site.token, audience=AUDIENCE, site="other")


async def test_revoke_all_of_a_client(tokens: TokenService) -> None:
    ours = await mint(tokens, client_id="client-1")
    theirs = await mint(tokens, client_id="client-2")
    await tokens.revoke_all(client_id="client-1")
    assert await refused(tokens, ours.token) == "revoked_all"
    await tokens.verify(theirs.token, audience=AUDIENCE, site=SITE)
    await tokens.verify((await mint(tokens, client_id="client-1")).token, audience=AUDIENCE, site=SITE)


async def test_revoke_all_on_another_replica_is_seen_after_the_cache_time(
    store: Store, keyring: KeyRing, clock: FakeClock
) -> None:
    here = TokenService(store, keyring, issuer=ISSUER, clock=clock)
    there = TokenService(store, keyring, issuer=ISSUER, clock=clock)
    minted = await mint(here)
    await here.verify(minted.token, audience=AUDIENCE, site=SITE)
    await there.revoke_all(site=SITE)
    await here.verify(minted.token, audience=AUDIENCE, site=SITE)
    clock.advance(5)
    assert await refused(here, minted.token) == "revoked_all"
    # a token minted there under the new epoch is fine here even while here's cache was old
    await here.verify((await mint(there)).token, audience=AUDIENCE, site=SITE)


async def test_revoke_all_needs_a_target(tokens: TokenService) -> None:
    with pytest.raises(ValueError, match="site or a client_id"):
        await tokens.revoke_all()


async def test_revoke_family(tokens: TokenService) -> None:
    ours = await mint(tokens, family="fam-1")
    assert ours.claims["fid"] == "fam-1"
    theirs = await mint(tokens, family="fam-2")
    assert not await tokens.family_revoked("fam-1")
    await tokens.revoke_family("fam-1")
    assert await tokens.family_revoked("fam-1")
    assert await refused(tokens, ours.token) == "revoked_all"
    await tokens.verify(theirs.token, audience=AUDIENCE, site=SITE)


async def test_rotation_keeps_old_tokens_valid_and_signs_new_ones_with_the_new_kid(
    tokens: TokenService, keyring: KeyRing, clock: FakeClock
) -> None:
    old = await mint(tokens)
    old_kid = jwt.get_unverified_header(old.token)["kid"]
    clock.advance(1)
    new_kid = await keyring.rotate()
    new = await mint(tokens)
    assert jwt.get_unverified_header(new.token)["kid"] == new_kid != old_kid
    await tokens.verify(old.token, audience=AUDIENCE, site=SITE)
    await tokens.verify(new.token, audience=AUDIENCE, site=SITE)
    await keyring.retire(old_kid)
    assert await refused(tokens, old.token) == "unknown_kid"
    await tokens.verify(new.token, audience=AUDIENCE, site=SITE)
