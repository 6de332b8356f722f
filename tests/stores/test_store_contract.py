"""The one contract every backend keeps: each test runs against memory, SQLite and Redis."""

from __future__ import annotations

import asyncio
import time

import pytest

from proxy.stores import DuplicateRecord, Store
from tests.stores.factories import make_audit, make_client, make_key, make_signing_key

SHORT_LIFE = 0.2  # seconds a short-lived revocation or grant lasts in the expiry tests


# lifecycle ---------------------------------------------------------------------------------
async def test_open_is_idempotent_and_ping_answers(store: Store) -> None:
    await store.open()
    await store.ping()


# API keys ----------------------------------------------------------------------------------
async def test_key_round_trips_by_id_and_by_hash(store: Store) -> None:
    key = make_key("key-1", profile="editor-tools", expires_at=1_800_000_000.0)
    await store.add_key(key)

    assert await store.get_key("key-1") == key
    assert await store.key_by_hash("hash-of-key-1") == key


async def test_unknown_key_is_none(store: Store) -> None:
    assert await store.get_key("nope") is None
    assert await store.key_by_hash("nope") is None


@pytest.mark.parametrize(
    "duplicate",
    [
        make_key("key-1", key_hash="another-hash", site="other"),  # same id
        make_key("key-2", key_hash="hash-of-key-1", site="other"),  # same hash
    ],
    ids=["same-id", "same-hash"],
)
async def test_duplicate_key_is_refused_and_leaves_no_trace(store: Store, duplicate: object) -> None:
    original = make_key("key-1")
    await store.add_key(original)

    with pytest.raises(DuplicateRecord):
        await store.add_key(duplicate)  # type: ignore[arg-type]

    assert await store.get_key("key-1") == original
    assert await store.key_by_hash("hash-of-key-1") == original
    assert await store.get_key("key-2") is None
    assert await store.key_by_hash("another-hash") is None
    assert await store.list_keys("other") == []


async def test_list_keys_is_per_site_oldest_first_with_revoked_and_expired(store: Store) -> None:
    keys = [
        make_key("c", created_at=300.0),
        make_key("b", created_at=100.0, revoked_at=150.0),
        make_key("a", created_at=300.0, expires_at=301.0),  # same age as "c": id breaks the tie
        make_key("x", created_at=50.0, site="other"),
    ]
    for key in keys:
        await store.add_key(key)

    assert [key.id for key in await store.list_keys("demo")] == ["b", "a", "c"]
    assert [key.id for key in await store.list_keys("other")] == ["x"]
    assert await store.list_keys("unknown") == []


async def test_revoke_key_once(store: Store) -> None:
    await store.add_key(make_key("key-1"))

    assert await store.revoke_key("key-1", at=2000.0) is True
    assert await store.revoke_key("key-1", at=3000.0) is False
    assert await store.revoke_key("unknown", at=2000.0) is False

    revoked = await store.key_by_hash("hash-of-key-1")
    assert revoked is not None
    assert revoked.revoked_at == 2000.0  # the first revocation time stays


async def test_revoke_site_keys_counts_live_keys_only(store: Store) -> None:
    await store.add_key(make_key("live-1"))
    await store.add_key(make_key("live-2", expires_at=9_999_999_999.0))
    await store.add_key(make_key("revoked", revoked_at=10.0))
    await store.add_key(make_key("expired", expires_at=1500.0))
    await store.add_key(make_key("elsewhere", site="other"))

    assert await store.revoke_site_keys("demo", at=2000.0) == 2
    assert await store.revoke_site_keys("demo", at=3000.0) == 0

    revoked_at = {key.id: key.revoked_at for key in await store.list_keys("demo")}
    assert revoked_at == {"live-1": 2000.0, "live-2": 2000.0, "revoked": 10.0, "expired": None}
    other = await store.get_key("elsewhere")
    assert other is not None
    assert other.revoked_at is None


async def test_touch_keys_never_moves_backwards(store: Store) -> None:
    await store.add_key(make_key("a"))
    await store.add_key(make_key("b", last_used_at=500.0))
    await store.add_key(make_key("c", revoked_at=10.0))

    await store.touch_keys({"a": 100.0, "b": 400.0, "c": 600.0, "unknown": 700.0})
    await store.touch_keys({"a": 90.0})
    await store.touch_keys({})

    last_used = {key.id: (key.last_used_at, key.revoked_at) for key in await store.list_keys("demo")}
    assert last_used == {"a": (100.0, None), "b": (500.0, None), "c": (600.0, 10.0)}
    assert await store.get_key("unknown") is None


# OAuth clients -----------------------------------------------------------------------------
async def test_client_crud(store: Store) -> None:
    public = make_client("public", secret_hash=None, created_at=2.0)
    confidential = make_client("confidential", created_at=1.0)
    elsewhere = make_client("elsewhere", site="other")
    for client in (public, confidential, elsewhere):
        await store.add_client(client)

    assert await store.get_client("public") == public
    assert await store.list_clients("demo") == [confidential, public]

    assert await store.remove_client("public") is True
    assert await store.remove_client("public") is False
    assert await store.get_client("public") is None
    assert await store.list_clients("demo") == [confidential]
    assert await store.list_clients("other") == [elsewhere]

    await store.add_client(public)  # a removed id can be used again
    assert await store.get_client("public") == public


async def test_duplicate_client_is_refused(store: Store) -> None:
    await store.add_client(make_client("client-1"))
    with pytest.raises(DuplicateRecord):
        await store.add_client(make_client("client-1", site="other", name="impostor"))

    assert await store.list_clients("other") == []
    assert await store.get_client("client-1") == make_client("client-1")


# access-token revocation -------------------------------------------------------------------
async def test_token_revocation_lasts_until_the_token_would_expire(store: Store) -> None:
    now = time.time()
    await store.revoke_token("forever", None)
    await store.revoke_token("long", now + 3600)
    await store.revoke_token("short", now + SHORT_LIFE)
    await store.revoke_token("dead-already", now - 1)

    assert await store.is_token_revoked("forever") is True
    assert await store.is_token_revoked("long") is True
    assert await store.is_token_revoked("short") is True
    assert await store.is_token_revoked("dead-already") is False
    assert await store.is_token_revoked("never-revoked") is False

    await asyncio.sleep(SHORT_LIFE + 0.1)
    await store.revoke_token("later", time.time() + 3600)  # a write that may purge expired entries

    assert await store.is_token_revoked("short") is False
    assert await store.is_token_revoked("forever") is True
    assert await store.is_token_revoked("long") is True


async def test_revoking_a_token_again_sets_its_new_expiry(store: Store) -> None:
    await store.revoke_token("jti", time.time() + 3600)
    await store.revoke_token("jti", time.time() - 1)
    assert await store.is_token_revoked("jti") is False


async def test_epochs_count_per_scope(store: Store) -> None:
    assert await store.get_epoch("site:demo") == 0
    assert await store.bump_epoch("site:demo") == 1
    assert await store.bump_epoch("site:demo") == 2
    assert await store.bump_epoch("client:abc") == 1
    assert await store.get_epoch("site:demo") == 2
    assert await store.get_epoch("client:abc") == 1


async def test_epoch_bumps_are_atomic_under_concurrency(store: Store) -> None:
    values = await asyncio.gather(*(store.bump_epoch("site:demo") for _ in range(50)))

    assert sorted(values) == list(range(1, 51))
    assert await store.get_epoch("site:demo") == 50


# one-time grants ---------------------------------------------------------------------------
async def test_grant_is_taken_once(store: Store) -> None:
    data = {"client_id": "c1", "scopes": ["mcp:tools"], "pkce": {"method": "S256"}, "n": 1.5, "ok": True}
    await store.put_grant("code", "h1", data, time.time() + 60)

    assert await store.take_grant("code", "h1") == data
    assert await store.take_grant("code", "h1") is None
    assert await store.take_grant("code", "unknown") is None


async def test_grant_kinds_are_separate_and_put_replaces(store: Store) -> None:
    expires = time.time() + 60
    await store.put_grant("code", "h1", {"v": "code"}, expires)
    await store.put_grant("refresh", "h1", {"v": "old"}, expires)
    await store.put_grant("refresh", "h1", {"v": "new"}, expires)

    assert await store.take_grant("refresh", "h1") == {"v": "new"}
    assert await store.take_grant("code", "h1") == {"v": "code"}


async def test_expired_grant_is_never_returned(store: Store) -> None:
    await store.put_grant("code", "past", {"v": 1}, time.time() - 1)
    await store.put_grant("code", "short", {"v": 2}, time.time() + SHORT_LIFE)

    assert await store.take_grant("code", "past") is None
    await asyncio.sleep(SHORT_LIFE + 0.1)
    assert await store.take_grant("code", "short") is None


async def test_get_grant_reads_without_consuming(store: Store) -> None:
    await store.put_grant("credential", "h1", {"v": 1}, time.time() + 60)
    await store.put_grant("credential", "short", {"v": 2}, time.time() + SHORT_LIFE)

    assert await store.get_grant("credential", "h1") == {"v": 1}
    assert await store.get_grant("credential", "h1") == {"v": 1}
    assert await store.get_grant("code", "h1") is None
    assert await store.get_grant("credential", "unknown") is None
    assert await store.take_grant("credential", "h1") == {"v": 1}
    assert await store.get_grant("credential", "h1") is None
    await asyncio.sleep(SHORT_LIFE + 0.1)
    assert await store.get_grant("credential", "short") is None


async def test_concurrent_takes_have_exactly_one_winner(store: Store) -> None:
    await store.put_grant("refresh", "h1", {"family": "f1"}, time.time() + 60)

    results = await asyncio.gather(*(store.take_grant("refresh", "h1") for _ in range(20)))

    assert [result for result in results if result is not None] == [{"family": "f1"}]


async def test_grant_data_must_be_json(store: Store) -> None:
    with pytest.raises(TypeError):
        await store.put_grant("code", "h1", {"not-json": {1, 2}}, time.time() + 60)
    assert await store.take_grant("code", "h1") is None


# signing keys ------------------------------------------------------------------------------
async def test_signing_keys_add_list_retire(store: Store) -> None:
    assert await store.list_signing_keys() == []
    newer = make_signing_key("kid-2", created_at=200.0)
    older = make_signing_key("kid-1", created_at=100.0, algorithm="RS256")
    await store.add_signing_key(newer)
    await store.add_signing_key(older)

    assert await store.list_signing_keys() == [older, newer]

    assert await store.retire_signing_key("kid-1", at=300.0) is True
    assert await store.retire_signing_key("kid-1", at=400.0) is False
    assert await store.retire_signing_key("unknown", at=300.0) is False
    assert [key.retired_at for key in await store.list_signing_keys()] == [300.0, None]


async def test_duplicate_signing_key_is_refused(store: Store) -> None:
    await store.add_signing_key(make_signing_key("kid-1"))
    with pytest.raises(DuplicateRecord):
        await store.add_signing_key(make_signing_key("kid-1", algorithm="RS256"))
    assert await store.list_signing_keys() == [make_signing_key("kid-1")]


# runtime settings --------------------------------------------------------------------------
async def test_settings_hold_json_values(store: Store) -> None:
    assert await store.get_settings() == {}
    values = {
        "switch.writes": False,
        "ratelimit.demo": {"per_minute": 120, "burst": 2.5, "tools": ["a", "b"], "note": None},
        "banner": "maintenance at 18:00 ✓",
        "ratio": 0.25,
        "tags": [],
    }
    for name, value in values.items():
        await store.set_setting(name, value)

    settings = await store.get_settings()
    assert settings == values

    settings["ratelimit.demo"]["per_minute"] = 1  # the caller's copy, not the store's
    assert (await store.get_settings())["ratelimit.demo"]["per_minute"] == 120


async def test_setting_none_deletes_and_set_overwrites(store: Store) -> None:
    await store.set_setting("a", 1)
    await store.set_setting("b", 2)
    await store.set_setting("a", {"now": "dict"})
    await store.set_setting("b", None)
    await store.set_setting("never-set", None)

    assert await store.get_settings() == {"a": {"now": "dict"}}


# call log ----------------------------------------------------------------------------------
async def test_audit_lists_newest_first_per_site_with_limit(store: Store) -> None:
    records = [make_audit(f"r{n}", at=1000.0 + n) for n in range(5)]
    for record in records:
        await store.append_audit(record)
    await store.append_audit(
        make_audit("elsewhere", site="other", decision="denied", reason="insufficient_scope")
    )

    assert await store.list_audit("demo") == records[::-1]
    assert await store.list_audit("demo", limit=2) == [records[4], records[3]]
    assert await store.list_audit("demo", limit=0) == []
    assert [record.id for record in await store.list_audit("other")] == ["elsewhere"]
    assert await store.list_audit("unknown") == []
