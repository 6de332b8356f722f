"""The `store` fixture: every contract test runs once per backend, against real SQLite and real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis

from proxy.stores import MemoryStore, RedisStore, SqliteStore, Store


@pytest.fixture
def clean_redis_prefix(redis_url: str, redis_prefix: str) -> Iterator[str]:
    """The test's own key prefix; its keys (and only those) are deleted afterwards, never a flush."""
    yield redis_prefix
    with redis.Redis.from_url(redis_url) as client:
        keys = list(client.scan_iter(match=f"{redis_prefix}*", count=1000))
        if keys:
            client.delete(*keys)


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """An opened store of each backend, empty at the start of the test."""
    backend: Store
    if request.param == "memory":
        backend = MemoryStore()
    elif request.param == "sqlite":
        backend = SqliteStore(tmp_path / "sidecar.db")
    else:
        backend = RedisStore(
            request.getfixturevalue("redis_url"), request.getfixturevalue("clean_redis_prefix")
        )
    await backend.open()
    yield backend
    await backend.close()
