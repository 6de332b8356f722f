"""The Redis backend against a real Redis: one script, one round trip, one limit for every replica."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from proxy.ratelimit import RateLimiter, RateLimitSettings
from proxy.ratelimit.gcra import Limit
from proxy.ratelimit.redis_store import RedisCounters
from tests.ratelimit.conftest import spend

SETTINGS = RateLimitSettings.model_validate(
    {
        "backend": "redis",
        "authenticated": {"requests": 10, "per_seconds": 60},
        "tools": {"wp-delete-post": {"requests": 2, "per_seconds": 60}},
    }
)


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Redis]:
    redis = Redis.from_url(redis_url)
    yield redis
    await redis.aclose()


def limit(prefix: str, name: str, capacity: int) -> Limit:
    return Limit(name=name, key=f"{prefix}{name}", capacity=capacity, interval_us=6_000_000, window=60)


async def test_script_counts_and_expires_keys(client: Redis, redis_prefix: str) -> None:
    counters = RedisCounters(client)
    only = [limit(redis_prefix, "a", 2)]
    results = [(await counters.check(only))[0] for _ in range(3)]
    assert [state.allowed for state in results] == [True, True, False]
    assert [state.remaining for state in results] == [1, 0, 0]
    assert results[2].retry_after == 6
    ttl_ms = await client.pttl(f"{redis_prefix}a")
    assert 11_000 < ttl_ms <= 12_000  # the key lives only as long as the backlog


async def test_script_is_all_or_nothing(client: Redis, redis_prefix: str) -> None:
    counters = RedisCounters(client)
    wide, tight = limit(redis_prefix, "wide", 5), limit(redis_prefix, "tight", 1)
    assert all(state.allowed for state in await counters.check([wide, tight]))
    states = await counters.check([wide, tight])
    assert [state.allowed for state in states] == [True, False]
    assert states[0].remaining == 4  # the refused request did not consume the wide limit
    assert (await counters.check([wide]))[0].remaining == 3


async def test_two_replicas_enforce_one_limit(redis_url: str, redis_prefix: str) -> None:
    replicas = [RateLimiter(SETTINGS, redis_url=redis_url, key_prefix=redis_prefix) for _ in range(2)]
    try:
        decisions = await asyncio.gather(
            *(
                replica.check(site="demo", tier="authenticated", principal_key="key-1")
                for _ in range(20)
                for replica in replicas
            )
        )
    finally:
        for replica in replicas:
            await replica.close()
    allowed = sum(decision.allowed for decision in decisions)
    assert 10 <= allowed <= 11  # 11 only if the run straddles a 6 s refill
    assert {decision.outcome for decision in decisions} == {"allowed", "limited"}


async def test_combined_limits_across_replicas(redis_url: str, redis_prefix: str) -> None:
    first, second = (RateLimiter(SETTINGS, redis_url=redis_url, key_prefix=redis_prefix) for _ in range(2))
    request: dict[str, Any] = {"site": "demo", "tier": "authenticated", "principal_key": "key-1"}
    try:
        assert (await first.check(**request, usage=spend(tool="wp-delete-post"))).allowed
        assert (await second.check(**request, usage=spend(tool="wp-delete-post"))).allowed
        refused = await first.check(**request, usage=spend(tool="wp-delete-post"))
        assert (refused.allowed, refused.policy, refused.retry_after) == (False, "tool:wp-delete-post", 30)
        # the refused call left the principal's allowance alone: 10 - 2 remain
        plain = [await second.check(**request) for _ in range(9)]
        assert [decision.allowed for decision in plain] == [True] * 8 + [False]
    finally:
        await first.close()
        await second.close()


async def test_given_client_is_used_and_left_open(client: Redis, redis_prefix: str) -> None:
    rl = RateLimiter(SETTINGS, redis_client=client, key_prefix=redis_prefix)
    decision = await rl.check(site="demo", tier="authenticated", principal_key="key-1")
    await rl.close()
    assert (decision.outcome, decision.remaining) == ("allowed", 9)
    assert await client.exists(f"{redis_prefix}{{demo/authenticated/key-1}}:tier") == 1


async def test_script_spends_the_cost(client: Redis, redis_prefix: str) -> None:
    counters = RedisCounters(client)
    batch = Limit(name="a", key=f"{redis_prefix}a", capacity=5, interval_us=6_000_000, window=60, cost=3)
    first, second = [(await counters.check([batch]))[0] for _ in range(2)]
    assert (first.allowed, first.remaining) == (True, 2)
    assert (second.allowed, second.remaining, second.retry_after) == (False, 2, 6)


async def test_more_checks_in_flight_than_connections_wait_for_one(redis_url: str, redis_prefix: str) -> None:
    """A burst bigger than the pool queues for a connection; it must not read as a Redis outage."""
    rl = RateLimiter(
        SETTINGS, redis_url=redis_url, key_prefix=redis_prefix, max_connections=4, store_timeout=5
    )
    try:
        decisions = await asyncio.gather(
            *(rl.check(site="demo", tier="authenticated", principal_key=f"key-{n}") for n in range(200))
        )
    finally:
        await rl.close()
    assert {decision.outcome for decision in decisions} == {"allowed"}
