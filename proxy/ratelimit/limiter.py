"""The rate limiter: picks a request's limits, asks the site's backend, and survives a Redis outage."""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from cachetools import LRUCache
from pydantic import ValidationError
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from structlog.typing import FilteringBoundLogger

from proxy.caching import Memo
from proxy.observe import get_logger
from proxy.ratelimit.breaker import StoreBreaker
from proxy.ratelimit.decision import Decision, decide
from proxy.ratelimit.gcra import Limit
from proxy.ratelimit.memory import MemoryCounters
from proxy.ratelimit.policies import limits_for
from proxy.ratelimit.redis_store import RedisCounters
from proxy.ratelimit.settings import RateLimitOverrides, RateLimitSettings, apply_overrides
from proxy.ratelimit.usage import ONE_REQUEST, Usage
from proxy.validation import ConfigError, describe_validation_error

__all__ = ["RateLimiter"]


def _log() -> FilteringBoundLogger:
    """The logger, looked up when a (rare) event happens: with cache_logger_on_first_use (which
    proxy.observe turns on) a module-level logger keeps the config of its first use, so the events of
    an outage hours later (or in a test capturing logs) would miss any reconfiguration since."""
    return get_logger(__name__)


_UNLIMITED = Decision(outcome="allowed", allowed=True)


class RateLimiter:
    """Checks rate limits for every site.

    `settings` is one RateLimitSettings for every site, or a mapping of site name to settings. Sites
    with `backend: redis` need `redis_client` (used as given; the caller closes it) or `redis_url` (a
    client with short timeouts and a single retry is made and closed by `close`). `key_prefix` starts
    every Redis key. `clock` (monotonic seconds) drives the in-memory limiter and the breaker; Redis
    counters use the Redis server's own clock, so replicas agree whatever their clocks say.
    `store_timeout` bounds one Redis round trip, waiting for one of the `max_connections` pooled
    connections included; after a failure Redis is skipped for `store_retry_after` seconds (each
    request then fails open or closed at once), then tried again. `counters` are in-memory counters
    to carry on from (a reload's new limiter takes the old one's, so nobody's allowance starts afresh).
    """

    def __init__(
        self,
        settings: RateLimitSettings | Mapping[str, RateLimitSettings],
        *,
        redis_client: Redis | None = None,
        redis_url: str | None = None,
        key_prefix: str = "mcp-sidecar:rl:",
        clock: Callable[[], float] = time.monotonic,
        store_timeout: float = 0.5,
        store_retry_after: float = 2.0,
        max_local_keys: int = 100_000,
        max_connections: int = 64,
        counters: MemoryCounters | None = None,
    ) -> None:
        if redis_client is not None and redis_url is not None:
            raise ValueError("give redis_client or redis_url, not both")
        self._default: RateLimitSettings | None = None
        self._sites: dict[str, RateLimitSettings] = {}
        if isinstance(settings, RateLimitSettings):
            self._default = settings
        else:
            self._sites = dict(settings)
        self._prefix = key_prefix
        self._store_timeout = store_timeout
        self._owned_client = redis_client is None and redis_url is not None
        if redis_url is not None:
            # A blocking pool: past `max_connections` checks in flight, a check waits for a free
            # connection (within its store_timeout) instead of failing at once, which the plain pool
            # does at 100 and which would read as a Redis outage under nothing worse than a burst.
            pool = BlockingConnectionPool.from_url(
                redis_url,
                max_connections=max_connections,
                timeout=store_timeout,
                socket_timeout=store_timeout,
                socket_connect_timeout=store_timeout,
                retry=Retry(NoBackoff(), 1),  # one reconnect for a stale pooled connection, no backoff sleeps
            )
            redis_client = Redis.from_pool(pool)
        self._client = redis_client
        wants_redis = [
            site for site, item in self._all_settings() if item.enabled and item.backend == "redis"
        ]
        if wants_redis and redis_client is None:
            raise ConfigError(
                [
                    f"ratelimit ({site}): backend: redis, but no Redis URL is configured"
                    for site in wants_redis
                ]
            )
        self._local = (
            counters if counters is not None else MemoryCounters(clock=clock, max_keys=max_local_keys)
        )
        self._shared = RedisCounters(redis_client) if redis_client is not None else None
        self._breaker = StoreBreaker(cooldown=store_retry_after, clock=clock)
        self._overridden: LRUCache[tuple[str, str], RateLimitSettings] = LRUCache(maxsize=256)
        self._known_limits: Memo[
            tuple[int, str, str, str, Hashable], tuple[RateLimitSettings, tuple[Limit, ...]]
        ] = Memo(maxsize=10_000)

    def _all_settings(self) -> list[tuple[str, RateLimitSettings]]:
        return [("*", self._default)] if self._default is not None else list(self._sites.items())

    def _settings(self, site: str, overrides: Mapping[str, Any] | None) -> RateLimitSettings:
        base = self._default if self._default is not None else self._sites.get(site)
        if base is None:
            raise ValueError(f"no rate-limit settings for site {site!r}")
        if not overrides:
            return base
        cache_key = (site, json.dumps(overrides, sort_keys=True, default=str))
        effective = self._overridden.get(cache_key)
        if effective is None:
            try:
                effective = apply_overrides(base, RateLimitOverrides.model_validate(overrides))
            except ValidationError as exc:
                # the admin API validates before storing; should a bad value get in anyway, the rules
                # keep applying (logged once per distinct value)
                problems = describe_validation_error("runtime rate-limit override", exc)
                _log().error("ratelimit_override_invalid", site=site, problems=problems)
                effective = base
            self._overridden[cache_key] = effective
        return effective

    async def check(
        self,
        *,
        site: str,
        tier: str,
        principal_key: str,
        usage: Usage = ONE_REQUEST,
        overrides: Mapping[str, Any] | None = None,
    ) -> Decision:
        """Count one request against every limit that applies, all-or-nothing.

        `tier` is `anonymous` (then `principal_key` is the client address, see client_ip and
        address_bucket) or `authenticated` (the principal). `usage` says what the request spends: one
        request against the tier by default, plus its calls per tool (or ability), toolset and command.
        `overrides` is the site's runtime override from the store's settings (RateLimitOverrides as
        JSON), which beats the rules.
        """
        settings = self._settings(site, overrides)
        if not settings.enabled:
            return _UNLIMITED
        limits = self._limits(settings, site, tier, principal_key, usage)
        oversized = next((limit for limit in limits if limit.cost > limit.capacity), None)
        if oversized is not None:
            return Decision(
                outcome="too_large", allowed=False, policy=oversized.name, limit=oversized.capacity
            )
        if settings.backend == "memory" or self._shared is None:
            return decide(self._local.check(limits), degraded=False)
        if self._breaker.open_for() > 0:
            return self._without_store(settings, limits)
        try:
            async with asyncio.timeout(self._store_timeout):
                states = await self._shared.check(limits)
        except (RedisError, OSError) as exc:  # OSError covers TimeoutError and refused sockets
            if self._breaker.failed():
                _log().warning(
                    "ratelimit_store_unavailable",
                    site=site,
                    on_store_error=settings.on_store_error,
                    error=f"{type(exc).__name__}: {exc}",
                )
            return self._without_store(settings, limits)
        if self._breaker.succeeded():
            _log().info("ratelimit_store_recovered", site=site)
        return decide(states, degraded=False)

    def _without_store(self, settings: RateLimitSettings, limits: tuple[Limit, ...]) -> Decision:
        if settings.on_store_error == "fail_open":
            # RISK (named in the settings): every replica now counts on its own
            return decide(self._local.check(limits), degraded=True)
        return Decision(
            outcome="store_error_closed",
            allowed=False,
            retry_after=max(1, math.ceil(self._breaker.open_for())),
        )

    def _limits(
        self, settings: RateLimitSettings, site: str, tier: str, principal_key: str, usage: Usage
    ) -> tuple[Limit, ...]:
        """The limits this request meets. They depend only on the settings, site, tier, caller and
        usage: remembered, as the same callers come back with the same calls."""
        key = (id(settings), site, tier, principal_key, usage.key)
        known = self._known_limits.get(key)
        if known is not None and known[0] is settings:  # the same settings object, not a reused id
            return known[1]
        limits = limits_for(
            settings, prefix=self._prefix, site=site, tier=tier, principal_key=principal_key, usage=usage
        )
        return self._known_limits.remember(key, (settings, limits))[1]

    @property
    def counters(self) -> MemoryCounters:
        """The in-memory counters (the memory backend's, and every site's while Redis fails open)."""
        return self._local

    async def close(self) -> None:
        """Close the Redis client if this limiter made it."""
        if self._owned_client and self._client is not None:
            await self._client.aclose()
