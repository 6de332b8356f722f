from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from proxy.identity.signing import ALGORITHM, KeyRing
from proxy.stores import MemoryStore, SigningKeyRecord, Store
from tests.identity.factories import FakeClock


class CountingStore(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def list_signing_keys(self) -> list[SigningKeyRecord]:
        self.reads += 1
        return await super().list_signing_keys()


async def test_first_use_creates_one_key(store: Store) -> None:
    ring = KeyRing(store)
    key = await ring.signing_key()
    records = await store.list_signing_keys()
    assert [(record.kid, record.algorithm) for record in records] == [(key.kid, ALGORITHM)]
    assert "PRIVATE KEY" in records[0].private_pem
    assert await ring.signing_key() == key


async def test_jwks_lists_public_keys_only(store: Store) -> None:
    ring = KeyRing(store)
    key = await ring.signing_key()
    jwks = await ring.jwks()
    assert len(jwks["keys"]) == 1
    jwk = jwks["keys"][0]
    assert {"kty": "EC", "crv": "P-256", "kid": key.kid, "alg": "ES256", "use": "sig"}.items() <= jwk.items()
    assert set(jwk) == {"kty", "crv", "x", "y", "kid", "alg", "use"}  # no private "d"


async def test_rotation_signs_with_the_new_key_and_keeps_the_old_for_verification(
    store: Store, clock: FakeClock
) -> None:
    ring = KeyRing(store, clock=clock)
    old = await ring.signing_key()
    clock.advance(1)
    new_kid = await ring.rotate()
    assert new_kid != old.kid
    assert (await ring.signing_key()).kid == new_kid
    assert await ring.public_key(old.kid) is not None
    assert [jwk["kid"] for jwk in (await ring.jwks())["keys"]] == [old.kid, new_kid]


async def test_retired_keys_neither_sign_nor_verify(store: Store, clock: FakeClock) -> None:
    ring = KeyRing(store, clock=clock)
    old = await ring.signing_key()
    clock.advance(1)
    new_kid = await ring.rotate()
    assert await ring.retire(old.kid) is True
    assert await ring.retire(old.kid) is False
    assert await ring.public_key(old.kid) is None
    assert [jwk["kid"] for jwk in (await ring.jwks())["keys"]] == [new_kid]


async def test_two_replicas_creating_at_once_trust_each_other(store: Store) -> None:
    monotonic = FakeClock()
    first = KeyRing(store, monotonic=monotonic)
    second = KeyRing(store, monotonic=monotonic)
    await first.load()
    await second.load()  # both see an empty store ...
    key_one = await first.signing_key()
    await second.load()
    await second.rotate()  # ... and the second adds its own key
    key_two = await second.signing_key()
    assert key_one.kid != key_two.kid
    assert await second.public_key(key_one.kid) is not None
    monotonic.advance(10)  # past the reload cooldown: the unknown kid makes the first re-read the store
    public = await first.public_key(key_two.kid)
    assert isinstance(public, ec.EllipticCurvePublicKey)


async def test_unknown_kids_reload_at_most_once_per_cooldown() -> None:
    store = CountingStore()
    monotonic = FakeClock()
    ring = KeyRing(store, reload_cooldown=10, monotonic=monotonic)
    await ring.signing_key()
    reads = store.reads
    for _ in range(50):
        assert await ring.public_key("no-such-kid") is None
    assert store.reads == reads
    monotonic.advance(10)
    assert await ring.public_key("no-such-kid") is None
    assert store.reads == reads + 1


async def test_signing_key_is_refreshed_to_follow_another_replica(store: Store, clock: FakeClock) -> None:
    monotonic = FakeClock()
    first = KeyRing(store, refresh_seconds=300, clock=clock, monotonic=monotonic)
    second = KeyRing(store, clock=clock, monotonic=monotonic)
    old = await first.signing_key()
    clock.advance(1)
    new_kid = await second.rotate()
    assert (await first.signing_key()).kid == old.kid
    monotonic.advance(300)
    assert (await first.signing_key()).kid == new_kid


@pytest.mark.parametrize("algorithm", ["ES384", "ES256"])
async def test_a_key_of_another_algorithm_or_curve_is_refused(store: Store, algorithm: str) -> None:
    pem = (
        ec.generate_private_key(ec.SECP384R1())
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    await store.add_signing_key(SigningKeyRecord(kid="x", algorithm=algorithm, private_pem=pem, created_at=0))
    with pytest.raises(ValueError, match="not an ES256 key"):
        await KeyRing(store).load()
