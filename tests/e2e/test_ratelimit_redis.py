"""Rate limits shared through Redis: two sidecar processes enforce one limit, and a Redis outage is
survived as the site chose (fail_open with local limits, or fail_closed), logged, counted, and healed."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import aiohttp
import pytest
from structlog.testing import capture_logs

from proxy.admin.context import admin_context
from proxy.demo import DEMO_MCP_PATH, RunningDemo, start_demo_upstream
from tests.admin.processes import config_data, sidecar_process, write_config
from tests.e2e.ratelimit_support import (
    ALL_SCOPES,
    INITIALIZE,
    SITE_USERS,
    counted_down,
    metric_value,
    post_json,
)
from tests.factories import make_config
from tests.proxy_harness import RunningSidecar, running_sidecar
from tests.redis_server import OwnedRedis

DECISIONS = "mcp_sidecar_ratelimit_decisions_total"
BREAKER_PAUSE = 2.0  # RateLimiter's store_retry_after: Redis is tried again this long after a failure


@pytest.fixture
async def demo() -> AsyncIterator[RunningDemo]:
    running = await start_demo_upstream()
    yield running
    await running.close()


async def test_two_sidecar_processes_share_one_limit(
    demo: RunningDemo, tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    limit = 20
    data = config_data(
        demo.url,
        top={
            "store": {"backend": "redis", "redis_url": redis_url, "prefix": redis_prefix},
            "logging": {"level": "warning"},
        },
        rate_limits={"backend": "redis", "authenticated": {"requests": limit, "per_seconds": 3600}},
    )
    first_config = write_config(tmp_path / "first.yaml", data)
    second_config = write_config(
        tmp_path / "second.yaml",
        {**data, "listen": config_data(demo.url)["listen"], "ops": config_data(demo.url)["ops"]},
    )
    async with admin_context(first_config) as admin:
        issued = await admin.identity.keys.issue("demo", "admin", label="shared", scopes=ALL_SCOPES)
    auth = {"X-API-Key": issued.raw}

    async with (
        sidecar_process(first_config, name="first") as first,
        sidecar_process(second_config, name="second") as second,
        aiohttp.ClientSession() as http,
    ):
        targets = [first.url, second.url] * 20  # 40 concurrent requests, interleaved across replicas
        replies = await asyncio.gather(
            *(post_json(http, url + DEMO_MCP_PATH, INITIALIZE, auth) for url in targets)
        )
        statuses = Counter(reply.status for reply in replies)
        assert set(statuses) == {200, 429}
        assert limit <= statuses[200] <= limit + 1  # 1 per 180 s: at most one slot comes back meanwhile
        assert demo.site.calls["initialize"] == statuses[200]  # WordPress saw exactly the admitted ones
        allowed = 0.0
        for replica in (first, second):
            async with http.get(replica.ops_url + "/metrics") as response:
                text = await response.text()
            allowed += metric_value(text, DECISIONS, site="demo", tier="authenticated", outcome="allowed")
        assert allowed == statuses[200]


def outage_sidecar(
    demo: RunningDemo, redis: OwnedRedis, prefix: str, on_store_error: str
) -> AbstractAsyncContextManager[RunningSidecar]:
    """A sidecar counting in `redis` (its other data in memory, so only the limiter feels an outage)."""
    config = make_config(
        demo.url,
        top={"store": {"backend": "memory", "redis_url": redis.url, "prefix": prefix}},
        users=SITE_USERS,
        rate_limits={
            "backend": "redis",
            "on_store_error": on_store_error,
            "authenticated": {"requests": 3, "per_seconds": 60},
        },
    )
    return running_sidecar(config)


async def test_fail_open_keeps_limiting_locally_and_recovers(
    demo: RunningDemo, owned_redis: OwnedRedis, redis_prefix: str
) -> None:
    async with outage_sidecar(demo, owned_redis, redis_prefix, "fail_open") as sc:
        issued = await sc.sidecar.services.identity.keys.issue("demo", "admin", label="k", scopes=ALL_SCOPES)
        auth = {"X-API-Key": issued.raw}
        url = sc.url + DEMO_MCP_PATH
        assert (await post_json(sc.http, url, INITIALIZE, auth)).status == 200

        owned_redis.stop()
        started = time.monotonic()
        with capture_logs() as logs:
            during = [await post_json(sc.http, url, INITIALIZE, auth) for _ in range(4)]
        # this replica's own limiter took over: a full local allowance, then refusals
        assert [reply.status for reply in during] == [200, 200, 200, 429]
        assert counted_down(during[3].headers["Retry-After"], 20, started)
        assert during[3].body["error"]["data"]["code"] == "rate_limited"
        unavailable = [entry for entry in logs if entry["event"] == "ratelimit_store_unavailable"]
        assert len(unavailable) == 1  # once per outage, not once per request
        assert unavailable[0]["on_store_error"] == "fail_open"
        metrics = await sc.metrics_text()
        assert (
            metric_value(metrics, DECISIONS, site="demo", tier="authenticated", outcome="store_error_open")
            == 4
        )

        owned_redis.start()
        await asyncio.sleep(BREAKER_PAUSE)
        with capture_logs() as logs:
            after = await post_json(sc.http, url, INITIALIZE, auth)
        assert after.status == 200
        assert after.headers["X-RateLimit-Remaining"] == "2"  # counted in the (fresh) Redis again
        assert [entry["event"] for entry in logs if entry["event"].startswith("ratelimit_")] == [
            "ratelimit_store_recovered"
        ]
        metrics = await sc.metrics_text()
        assert metric_value(metrics, DECISIONS, site="demo", tier="authenticated", outcome="allowed") == 2


async def test_fail_closed_refuses_with_503_and_recovers(
    demo: RunningDemo, owned_redis: OwnedRedis, redis_prefix: str
) -> None:
    async with outage_sidecar(demo, owned_redis, redis_prefix, "fail_closed") as sc:
        issued = await sc.sidecar.services.identity.keys.issue("demo", "admin", label="k", scopes=ALL_SCOPES)
        auth = {"X-API-Key": issued.raw}
        url = sc.url + DEMO_MCP_PATH
        assert (await post_json(sc.http, url, INITIALIZE, auth)).status == 200

        owned_redis.stop()
        reached = len(demo.site.requests)
        with capture_logs() as logs:
            refused = await post_json(sc.http, url, {**INITIALIZE, "id": 9}, auth)
        assert refused.status == 503
        assert refused.headers["Retry-After"] == "2"  # when Redis will be tried again
        assert refused.body["id"] == 9
        assert refused.body["error"]["data"]["code"] == "rate_limiter_unavailable"
        assert "X-RateLimit-Limit" not in refused.headers  # nothing was counted
        assert len(demo.site.requests) == reached
        assert [
            entry["on_store_error"] for entry in logs if entry["event"] == "ratelimit_store_unavailable"
        ] == ["fail_closed"]
        metrics = await sc.metrics_text()
        assert (
            metric_value(metrics, DECISIONS, site="demo", tier="authenticated", outcome="store_error_closed")
            == 1
        )

        owned_redis.start()
        await asyncio.sleep(BREAKER_PAUSE)
        after = await post_json(sc.http, url, INITIALIZE, auth)
        assert after.status == 200
        assert after.headers["X-RateLimit-Remaining"] == "2"
