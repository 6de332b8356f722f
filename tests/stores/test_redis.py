"""What only the Redis backend promises: replicas share state at once, keys stay under the prefix,
a dead or silent Redis fails fast as StoreUnavailable, and the store recovers when Redis is back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import cast

import pytest
import redis.asyncio as aioredis

from proxy.stores import RedisStore, StoreError, StoreUnavailable
from tests.redis_server import OwnedRedis
from tests.stores.factories import make_audit, make_client, make_key, make_signing_key


@pytest.fixture
async def replicas(redis_url: str, clean_redis_prefix: str) -> AsyncIterator[tuple[RedisStore, RedisStore]]:
    """Two stores on one Redis and prefix, as two sidecar replicas would be."""
    pair = (RedisStore(redis_url, clean_redis_prefix), RedisStore(redis_url, clean_redis_prefix))
    for store in pair:
        await store.open()
    yield pair
    for store in pair:
        await store.close()


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """A TCP server that accepts connections and never answers: a hung Redis."""
    connections: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"redis://127.0.0.1:{port}/0"
    for writer in connections:
        writer.close()
    server.close()
    await server.wait_closed()


async def test_every_replica_sees_a_write_at_once(replicas: tuple[RedisStore, RedisStore]) -> None:
    one, other = replicas
    await one.add_key(make_key("key-1"))
    assert await other.revoke_key("key-1", at=2000.0) is True

    key = await one.key_by_hash("hash-of-key-1")
    assert key is not None
    assert key.revoked_at == 2000.0

    await other.revoke_token("jti-1", time.time() + 60)
    assert await one.is_token_revoked("jti-1") is True

    await one.bump_epoch("site:demo")
    assert await other.get_epoch("site:demo") == 1


async def test_replicas_stay_atomic_together(replicas: tuple[RedisStore, RedisStore]) -> None:
    epochs = await asyncio.gather(*(store.bump_epoch("site:demo") for _ in range(25) for store in replicas))
    assert sorted(epochs) == list(range(1, 51))

    await replicas[0].put_grant("refresh", "h1", {"family": "f1"}, time.time() + 60)
    takes = await asyncio.gather(
        *(store.take_grant("refresh", "h1") for _ in range(10) for store in replicas)
    )
    assert [take for take in takes if take is not None] == [{"family": "f1"}]

    await asyncio.gather(*(store.add_key(make_key(f"key-{n}")) for n in range(10) for store in replicas[:1]))
    touches = [
        store.touch_keys({f"key-{n}": 100.0 + n + m})
        for n in range(10)
        for m in range(3)
        for store in replicas
    ]
    revocation = replicas[1].revoke_site_keys("demo", at=2000.0)
    *_, revoked_count = await asyncio.gather(*touches, revocation)
    assert revoked_count == 10
    keys = await replicas[0].list_keys("demo")
    assert [(key.revoked_at, key.last_used_at) for key in keys] == [(2000.0, 102.0 + n) for n in range(10)]


async def test_every_key_is_under_the_prefix(owned_redis: OwnedRedis, redis_prefix: str) -> None:
    store = RedisStore(owned_redis.url, redis_prefix)
    await store.open()
    try:
        await store.add_key(make_key("key-1"))
        await store.add_client(make_client("client-1"))
        await store.add_signing_key(make_signing_key("kid-1"))
        await store.revoke_token("jti-1", None)
        await store.bump_epoch("site:demo")
        await store.put_grant("code", "h1", {"v": 1}, time.time() + 60)
        await store.set_setting("switch.writes", True)
        await store.append_audit(make_audit("audit-1"))
    finally:
        await store.close()

    async with aioredis.Redis.from_url(owned_redis.url, decode_responses=True) as client:
        keys = cast(list[str], await client.keys("*"))
    assert len(keys) >= 10
    assert all(key.startswith(redis_prefix) for key in keys)


async def test_audit_stream_is_capped(redis_url: str, clean_redis_prefix: str) -> None:
    """Also a burst of more concurrent calls than the pool has connections: they wait, none fails."""
    store = RedisStore(redis_url, clean_redis_prefix, audit_max_len=10)
    await store.open()
    try:
        await asyncio.gather(*(store.append_audit(make_audit(f"r{n}")) for n in range(300)))
        async with aioredis.Redis.from_url(redis_url) as client:
            kept = await client.xlen(f"{clean_redis_prefix}audit:demo")
    finally:
        await store.close()
    assert 10 <= kept < 300  # "~": Redis trims whole stream nodes, so a few more than 10 may stay


async def test_a_stopped_redis_is_unavailable_quickly_and_then_recovers(
    owned_redis: OwnedRedis, redis_prefix: str
) -> None:
    store = RedisStore(owned_redis.url, redis_prefix, timeout_seconds=1.0)
    await store.open()
    try:
        await store.bump_epoch("site:demo")
        owned_redis.stop()

        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="redis is unreachable"):
            await store.get_epoch("site:demo")
        with pytest.raises(StoreUnavailable):
            await store.ping()
        with pytest.raises(StoreUnavailable):
            await store.add_key(make_key("key-1"))
        assert time.monotonic() - started < 2.0

        owned_redis.start()  # a fresh, empty server on the same port
        await store.ping()
        assert await store.bump_epoch("site:demo") == 1
    finally:
        await store.close()


async def test_opening_against_a_stopped_redis_is_unavailable(
    owned_redis: OwnedRedis, redis_prefix: str
) -> None:
    owned_redis.stop()
    store = RedisStore(owned_redis.url, redis_prefix, timeout_seconds=1.0)
    with pytest.raises(StoreUnavailable):
        await store.open()
    with pytest.raises(StoreUnavailable, match="not open"):
        await store.ping()


async def test_a_silent_redis_times_out_as_unavailable(silent_server: str, redis_prefix: str) -> None:
    store = RedisStore(silent_server, redis_prefix, timeout_seconds=0.3)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        await store.open()
    assert time.monotonic() - started < 1.5


async def test_a_url_that_is_not_redis_is_refused_without_echoing_it(redis_prefix: str) -> None:
    store = RedisStore("http://:hunter2@127.0.0.1:6379/0", redis_prefix)
    with pytest.raises(StoreError, match="not a Redis URL") as caught:
        await store.open()
    assert "hunter2" not in str(caught.value)
