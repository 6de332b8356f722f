"""Long-lived parts shared by every Runtime: they survive reloads (connections, caches, metrics).

Built unopened; `start()` opens the store and background tasks, `close()` releases everything. Parts
that depend on reloadable settings (the rate limiter, entitlement checkers) are rebuilt by `adopt()`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from proxy.authz.capabilities import CapabilityResolver
from proxy.identity.services import IdentityServices
from proxy.identity.upstream_credentials import UpstreamCredentials, credential_keys
from proxy.mcp.session import SessionSealer
from proxy.observe import Metrics, get_logger
from proxy.policy.entitlement import EntitlementChecker, EntitlementSettings
from proxy.ratelimit import RateLimiter
from proxy.ratelimit.memory import MemoryCounters
from proxy.runtime import Runtime, RuntimeHolder, SiteRuntime
from proxy.stores import create_store
from proxy.stores.base import Store, StoreError
from proxy.switches import Switches
from proxy.upstream import Forwarder

__all__ = ["SERVICES_KEY", "Services", "build_services"]

log = get_logger("proxy.services")


def _limiter(runtime: Runtime, counters: MemoryCounters | None = None) -> RateLimiter:
    config = runtime.config
    per_site = {site.name: site.rate_limits for site in runtime.sites}
    uses_redis = any(settings.backend == "redis" and settings.enabled for settings in per_site.values())
    return RateLimiter(
        per_site,
        redis_url=config.store.redis_url if uses_redis else None,
        key_prefix=config.store.prefix + "rl:",
        counters=counters,
    )


@dataclass(slots=True)
class Services:
    holder: RuntimeHolder
    metrics: Metrics
    forwarder: Forwarder
    store: Store
    identity: IdentityServices
    sealer: SessionSealer
    switches: Switches
    limiter: RateLimiter
    credentials: UpstreamCredentials  # the application password each principal acts with upstream
    http: aiohttp.ClientSession | None = None  # for WordPress lookups (capabilities, entitlement)
    capabilities: CapabilityResolver | None = None
    _entitlement: dict[str, tuple[EntitlementSettings, EntitlementChecker]] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def start(self) -> None:
        """Open the store and the client session; start background work."""
        await self.store.open()
        self.http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=30), cookie_jar=aiohttp.DummyCookieJar()
        )
        caps = self.holder.current.config.capabilities
        self.capabilities = CapabilityResolver(
            self.http, ttl_seconds=caps.ttl_seconds, timeout_seconds=caps.timeout_seconds
        )
        await self.switches.start()
        flush = self.holder.current.config.identity.last_used_flush_seconds
        self._tasks.append(asyncio.create_task(self._flush_last_used(flush), name="last-used-flush"))

    async def _flush_last_used(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await self.identity.keys.flush_last_used()
            except StoreError as error:
                log.warning("last_used_flush_failed", error=type(error).__name__)

    def adopt(self, runtime: Runtime) -> None:
        """Swap in a new Runtime (reload): rebuild what depends on reloadable settings. In-memory rate
        counters carry over: a reload must not hand every caller a fresh allowance."""
        old_limiter = self.limiter
        self.limiter = _limiter(runtime, old_limiter.counters)
        self.holder.current = runtime
        asyncio.get_running_loop().create_task(old_limiter.close())

    def entitlement(self, site: SiteRuntime) -> EntitlementChecker:
        """The site's checker, kept across reloads while its settings stay the same (keeps its cache)."""
        assert self.http is not None, "Services.start() not called"
        settings = site.settings.entitlement
        known = self._entitlement.get(site.name)
        if known is not None and (known[0] is settings or known[0] == settings):
            return known[1]
        checker = EntitlementChecker(settings, session=self.http)
        self._entitlement[site.name] = (settings, checker)
        return checker

    def readiness_checks(self) -> dict[str, Coroutine[Any, Any, str | None]]:
        """Extra readiness probes: name -> coroutine giving a problem or None."""
        return {"store": self._store_problem()}

    async def _store_problem(self) -> str | None:
        try:
            await self.store.ping()
        except StoreError as error:
            return type(error).__name__
        return None

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        with contextlib.suppress(StoreError):
            await self.identity.keys.flush_last_used()  # keep what was recorded since the last flush
        await self.switches.close()
        await self.limiter.close()
        await self.forwarder.close()
        if self.http is not None:
            await self.http.close()
        await self.store.close()


def build_services(runtime: Runtime, *, store: Store | None = None) -> Services:
    """Everything long-lived, unopened. `store` overrides the configured one (tests)."""
    config = runtime.config
    metrics = Metrics()
    store = store or create_store(config.store, base_dir=runtime.base_dir)
    keys = [base64.b64decode(key) for key in config.secrets.session_keys]
    return Services(
        holder=RuntimeHolder(runtime),
        metrics=metrics,
        forwarder=Forwarder(metrics=metrics, max_body_bytes=config.limits.max_body_bytes),
        store=store,
        identity=IdentityServices.build(
            store, config.identity, pepper=config.secrets.key_pepper.encode(), issuer=runtime.issuer
        ),
        sealer=SessionSealer(keys[0], old_keys=keys[1:]),
        switches=Switches(store, poll_seconds=config.settings_poll_seconds),
        limiter=_limiter(runtime),
        credentials=UpstreamCredentials(
            store,
            keys=credential_keys(config.secrets.credential_keys, config.secrets.session_keys),
            lifetime_seconds=config.identity.refresh_token_ttl_hours * 3600,
            cache_seconds=config.identity.revocation_cache_seconds,
        ),
    )


SERVICES_KEY = web.AppKey("sidecar_services", Services)
