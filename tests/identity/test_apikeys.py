from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
from collections.abc import Mapping

import pytest

from proxy.identity.apikeys import API_KEY_PREFIX, KeyService, looks_like_api_key
from proxy.identity.credentials import CredentialError
from proxy.identity.hashing import Fingerprinter
from proxy.stores import MemoryStore, Store
from tests.identity.factories import PEPPER, SITE, FakeClock


class CountingStore(MemoryStore):
    """A real memory store that counts lookups and can be told to fail writes of last-used times."""

    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0
        self.touch_fails = False
        self.hold: asyncio.Event | None = None  # set: lookups wait for it (a slow store)

    async def key_by_hash(self, key_hash: str):  # type: ignore[no-untyped-def]
        self.lookups += 1
        found = await super().key_by_hash(key_hash)
        if self.hold is not None:
            await self.hold.wait()
        return found

    async def touch_keys(self, last_used: Mapping[str, float]) -> None:
        if self.touch_fails:
            raise ConnectionError("store down")
        await super().touch_keys(last_used)


@pytest.fixture
def keys(store: Store, clock: FakeClock) -> KeyService:
    return KeyService(store, pepper=PEPPER, default_ttl_hours=24, clock=clock)


async def test_issued_key_has_prefix_256_bits_and_is_stored_only_hashed(
    keys: KeyService, store: Store
) -> None:
    issued = await keys.issue(SITE, "editor", label="ci", scopes=["posts:read"], profile="reader")
    assert re.fullmatch(r"wpmcp_[A-Za-z0-9_-]{43}", issued.raw)
    assert looks_like_api_key(issued.raw)
    record = await store.get_key(issued.record.id)
    assert record == issued.record
    assert issued.raw not in repr(record)
    # HMAC-SHA-256 under the pepper, as hex: the format stored keys already have, kept across upgrades
    assert record.key_hash == hmac.new(PEPPER, issued.raw.encode(), hashlib.sha256).hexdigest()
    assert issued.raw[len(API_KEY_PREFIX) :] not in repr(record)
    assert record.key_hash != issued.raw
    assert len(record.key_hash) == 64


async def test_two_keys_differ(keys: KeyService) -> None:
    first = await keys.issue(SITE, "editor", label="a", scopes=[])
    second = await keys.issue(SITE, "editor", label="b", scopes=[])
    assert first.raw != second.raw
    assert first.record.id != second.record.id


async def test_authenticate_returns_the_record(keys: KeyService) -> None:
    issued = await keys.issue(SITE, "editor", label="ci", scopes=["posts:read", "posts:read", "media:write"])
    record = await keys.authenticate(issued.raw)
    assert record.id == issued.record.id
    assert record.scopes == ("posts:read", "media:write")


async def test_a_key_hashed_under_another_pepper_is_unknown(keys: KeyService, store: Store) -> None:
    issued = await keys.issue(SITE, "editor", label="ci", scopes=[])
    other = KeyService(store, pepper=b"another pepper of 32 bytes......", default_ttl_hours=1)
    with pytest.raises(CredentialError, match="unknown"):
        await other.authenticate(issued.raw)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "wpmcp_",
        "wpmcp_" + "a" * 42,
        "wpmcp_" + "a" * 44,
        "wpmcp_" + "a" * 42 + "=",
        "wpmcp_" + "a" * 42 + "!",
        "wpmkp_" + "a" * 43,
        "WPMCP_" + "a" * 43,
        "eyJhbGciOiJFUzI1NiJ9.e30.c2ln",
    ],
)
async def test_malformed_keys_are_refused_without_a_store_read(clock: FakeClock, raw: str) -> None:
    store = CountingStore()
    keys = KeyService(store, pepper=PEPPER, default_ttl_hours=1, clock=clock)
    with pytest.raises(CredentialError) as caught:
        await keys.authenticate(raw)
    assert caught.value.reason == "malformed"
    assert store.lookups == 0


async def test_unknown_well_formed_key(keys: KeyService) -> None:
    with pytest.raises(CredentialError) as caught:
        await keys.authenticate("wpmcp_" + "a" * 43)
    assert caught.value.reason == "unknown"


async def test_expiry_follows_the_ttl(keys: KeyService, clock: FakeClock) -> None:
    issued = await keys.issue(SITE, "editor", label="ci", scopes=[], ttl_hours=2)
    assert issued.record.expires_at == clock.now + 7200
    clock.advance(7199)
    await keys.authenticate(issued.raw)
    clock.advance(1)
    with pytest.raises(CredentialError) as caught:
        await keys.authenticate(issued.raw)
    assert caught.value.reason == "expired"


async def test_default_ttl_applies_when_none_given(keys: KeyService, clock: FakeClock) -> None:
    issued = await keys.issue(SITE, "editor", label="ci", scopes=[])
    assert issued.record.expires_at == clock.now + 24 * 3600


async def test_ttl_zero_never_expires(keys: KeyService, clock: FakeClock) -> None:
    issued = await keys.issue(SITE, "editor", label="ci", scopes=[], ttl_hours=0)
    assert issued.record.expires_at is None
    clock.advance(10 * 365 * 86400)
    assert (await keys.authenticate(issued.raw)).id == issued.record.id


@pytest.mark.parametrize("ttl", [-1, 169, 1000, 1.5, "24", True, False])
async def test_bad_ttl_is_refused_with_a_clear_message(keys: KeyService, ttl: object) -> None:
    with pytest.raises(ValueError, match=r"ttl_hours must be a whole number of hours from 1 to 168, or 0"):
        await keys.issue(SITE, "editor", label="ci", scopes=[], ttl_hours=ttl)  # type: ignore[arg-type]


@pytest.mark.parametrize("ttl", [-1, 169])
def test_bad_default_ttl_is_refused(store: Store, ttl: int) -> None:
    with pytest.raises(ValueError, match="default_ttl_hours"):
        KeyService(store, pepper=PEPPER, default_ttl_hours=ttl)


def test_short_pepper_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="pepper"):
        KeyService(store, pepper=b"short", default_ttl_hours=1)


async def test_bad_scope_is_refused(keys: KeyService) -> None:
    with pytest.raises(ValueError, match="not a valid scope"):
        await keys.issue(SITE, "editor", label="ci", scopes=["two words"])


async def test_revoke_one(keys: KeyService) -> None:
    first = await keys.issue(SITE, "editor", label="a", scopes=[])
    second = await keys.issue(SITE, "editor", label="b", scopes=[])
    assert await keys.revoke(first.record.id) is True
    assert await keys.revoke(first.record.id) is False
    with pytest.raises(CredentialError) as caught:
        await keys.authenticate(first.raw)
    assert caught.value.reason == "revoked"
    await keys.authenticate(second.raw)


async def test_revoke_all_of_a_site_only(keys: KeyService) -> None:
    ours = [await keys.issue(SITE, "editor", label=str(n), scopes=[]) for n in range(3)]
    theirs = await keys.issue("other", "editor", label="x", scopes=[])
    assert await keys.revoke_all(SITE) == 3
    for issued in ours:
        with pytest.raises(CredentialError, match="revoked"):
            await keys.authenticate(issued.raw)
    await keys.authenticate(theirs.raw)


async def test_list_shows_the_site_keys_with_unflushed_last_use(keys: KeyService, clock: FakeClock) -> None:
    issued = await keys.issue(SITE, "editor", label="ci", scopes=[])
    await keys.issue("other", "editor", label="x", scopes=[])
    assert [record.last_used_at for record in await keys.list(SITE)] == [None]
    clock.advance(5)
    await keys.authenticate(issued.raw)
    assert [(record.id, record.last_used_at) for record in await keys.list(SITE)] == [
        (issued.record.id, clock.now)
    ]


async def test_last_used_is_written_in_one_batch_on_flush(
    keys: KeyService, store: Store, clock: FakeClock
) -> None:
    first = await keys.issue(SITE, "editor", label="a", scopes=[])
    second = await keys.issue(SITE, "editor", label="b", scopes=[])
    assert await keys.flush_last_used() == 0
    await keys.authenticate(first.raw)
    clock.advance(3)
    await keys.authenticate(first.raw)
    await keys.authenticate(second.raw)
    assert (await store.get_key(first.record.id)).last_used_at is None  # type: ignore[union-attr]
    assert await keys.flush_last_used() == 2
    assert (await store.get_key(first.record.id)).last_used_at == clock.now  # type: ignore[union-attr]
    assert (await store.get_key(second.record.id)).last_used_at == clock.now  # type: ignore[union-attr]
    assert await keys.flush_last_used() == 0


async def test_failed_flush_keeps_the_times_for_the_next_one(clock: FakeClock) -> None:
    store = CountingStore()
    keys = KeyService(store, pepper=PEPPER, default_ttl_hours=1, clock=clock)
    issued = await keys.issue(SITE, "editor", label="a", scopes=[])
    await keys.authenticate(issued.raw)
    used_at = clock.now
    store.touch_fails = True
    with pytest.raises(ConnectionError):
        await keys.flush_last_used()
    store.touch_fails = False
    assert await keys.flush_last_used() == 1
    assert (await store.get_key(issued.record.id)).last_used_at == used_at  # type: ignore[union-attr]


async def test_concurrent_requests_with_one_key_read_it_once(clock: FakeClock) -> None:
    """A busy key's cache entry expires every few seconds: the requests in flight then share one read."""
    store = CountingStore()
    keys = KeyService(store, pepper=PEPPER, default_ttl_hours=1, clock=clock, cache_seconds=60)
    issued = await keys.issue(SITE, "editor", label="a", scopes=[])
    store.hold = asyncio.Event()
    callers = [asyncio.create_task(keys.authenticate(issued.raw)) for _ in range(16)]
    while store.lookups == 0:
        await asyncio.sleep(0)
    callers[0].cancel()  # one caller giving up does not cancel the read the others wait for
    store.hold.set()
    records = await asyncio.gather(*callers[1:])
    assert {record.id for record in records} == {issued.record.id}
    assert store.lookups == 1
    await keys.authenticate(issued.raw)
    assert store.lookups == 1  # remembered


async def test_a_read_in_flight_during_a_revocation_is_not_remembered(clock: FakeClock) -> None:
    store = CountingStore()
    keys = KeyService(store, pepper=PEPPER, default_ttl_hours=1, clock=clock, cache_seconds=60)
    issued = await keys.issue(SITE, "editor", label="a", scopes=[])
    store.hold = asyncio.Event()
    early = asyncio.create_task(keys.authenticate(issued.raw))
    while store.lookups == 0:  # its read has the record as it was before the revocation
        await asyncio.sleep(0)
    await keys.revoke(issued.record.id)
    store.hold.set()
    assert (await early).id == issued.record.id  # it started before the revocation
    with pytest.raises(CredentialError) as caught:
        await keys.authenticate(issued.raw)
    assert caught.value.reason == "revoked"  # the stale record was not kept


def test_fingerprints_tell_secrets_apart_and_mean_nothing_to_another_process() -> None:
    """The in-memory index of looked-up keys: the same secret always finds its entry here, another secret
    never does, and another process (another random key) fingerprints the same secret differently."""
    first, other_process = Fingerprinter().digest, Fingerprinter().digest
    key = API_KEY_PREFIX + "a" * 43
    assert first(key) == first(key)
    assert first(key) != first(key[:-1] + "b")
    assert first(key) != other_process(key)
    assert key.encode() not in first(key)
