"""Redis going away mid-run: fail_open limits locally, fail_closed refuses; both recover on restart."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from structlog.testing import capture_logs

from proxy.ratelimit import RateLimiter, RateLimitSettings, rate_limit_error
from tests.ratelimit.conftest import FakeClock
from tests.redis_server import OwnedRedis

REQUEST: dict[str, Any] = {"site": "demo", "tier": "authenticated", "principal_key": "key-1"}

MakeLimiter = Callable[[str], RateLimiter]


@pytest.fixture
async def make_limiter(
    owned_redis: OwnedRedis, redis_prefix: str, clock: FakeClock
) -> AsyncIterator[MakeLimiter]:
    made: list[RateLimiter] = []

    def make(on_store_error: str) -> RateLimiter:
        settings = RateLimitSettings.model_validate(
            {
                "backend": "redis",
                "on_store_error": on_store_error,
                "authenticated": {"requests": 10, "per_seconds": 60},
            }
        )
        rl = RateLimiter(settings, redis_url=owned_redis.url, key_prefix=redis_prefix, clock=clock)
        made.append(rl)
        return rl

    yield make
    for rl in made:
        await rl.close()


async def outcomes(rl: RateLimiter, count: int, **request: Any) -> list[tuple[str, bool]]:
    return [
        ((decision := await rl.check(**{**REQUEST, **request})).outcome, decision.allowed)
        for _ in range(count)
    ]


async def test_fail_open_uses_local_limits_then_recovers(
    make_limiter: MakeLimiter, owned_redis: OwnedRedis, clock: FakeClock
) -> None:
    rl = make_limiter("fail_open")
    assert await outcomes(rl, 3) == [("allowed", True)] * 3
    owned_redis.stop()
    with capture_logs() as logs:
        during = await outcomes(rl, 11)
    # this replica alone still limits: a full local allowance, then refusals
    assert during == [("store_error_open", True)] * 10 + [("store_error_open", False)]
    refused = await rl.check(**REQUEST)
    assert (rate_limit_error(refused).status, rate_limit_error(refused).code) == (429, "rate_limited")
    assert [entry["event"] for entry in logs] == ["ratelimit_store_unavailable"]  # once, not per request
    assert logs[0]["on_store_error"] == "fail_open"

    owned_redis.start()
    assert (await outcomes(rl, 1))[0][0] == "store_error_open"  # still inside the breaker's pause
    clock.advance(2.0)
    with capture_logs() as logs:
        after = await rl.check(**REQUEST)
    assert (after.outcome, after.allowed, after.remaining) == ("allowed", True, 9)  # a fresh Redis
    assert [entry["event"] for entry in logs] == ["ratelimit_store_recovered"]


async def test_fail_closed_refuses_with_503_then_recovers(
    make_limiter: MakeLimiter, owned_redis: OwnedRedis, clock: FakeClock
) -> None:
    rl = make_limiter("fail_closed")
    assert (await rl.check(**REQUEST)).allowed
    owned_redis.stop()
    refused = await rl.check(**REQUEST)
    assert (refused.outcome, refused.allowed, refused.policy, refused.retry_after) == (
        "store_error_closed",
        False,
        None,
        2,
    )
    error = rate_limit_error(refused)
    assert (error.status, error.code, error.headers) == (
        503,
        "rate_limiter_unavailable",
        {"Retry-After": "2"},
    )
    assert await outcomes(rl, 3) == [("store_error_closed", False)] * 3

    owned_redis.start()
    clock.advance(2.0)
    assert await outcomes(rl, 2) == [("allowed", True)] * 2


async def test_breaker_retries_and_trips_again_while_down(
    make_limiter: MakeLimiter, owned_redis: OwnedRedis, clock: FakeClock
) -> None:
    rl = make_limiter("fail_closed")
    owned_redis.stop()
    with capture_logs() as logs:
        assert (await rl.check(**REQUEST)).outcome == "store_error_closed"
        clock.advance(2.0)
        assert (await rl.check(**REQUEST)).outcome == "store_error_closed"  # tried again, failed again
    assert [entry["event"] for entry in logs] == ["ratelimit_store_unavailable"]


async def test_a_silent_store_costs_one_short_timeout(clock: FakeClock) -> None:
    """A Redis that accepts but never answers: the first request waits store_timeout, the next none."""

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never answer
        writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = RateLimitSettings(backend="redis", on_store_error="fail_open")
    rl = RateLimiter(settings, redis_url=f"redis://127.0.0.1:{port}/0", clock=clock, store_timeout=0.1)
    try:
        started = time.monotonic()
        first = await rl.check(**REQUEST)
        first_took = time.monotonic() - started
        started = time.monotonic()
        second = await rl.check(**REQUEST)
        second_took = time.monotonic() - started
    finally:
        await rl.close()
        server.close()
        await server.wait_closed()
    assert (first.outcome, first.allowed, second.outcome) == ("store_error_open", True, "store_error_open")
    assert first_took < 1.0
    assert second_took < 0.05
