"""Runtime switches and overrides kept in the store, so an operator's change reaches every replica.

Config says what is on at start; a switch set at runtime (`mcp-sidecar switch ...`) wins over it until
cleared. Each replica re-reads the store every `settings_poll_seconds`; when the store cannot be read,
the last values read stay in force (and the error is logged), so a store outage never flips a switch.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from proxy.observe import get_logger
from proxy.runtime import SiteRuntime
from proxy.stores.base import Store, StoreError

__all__ = ["GLOBAL_SWITCH", "Switches", "rate_limit_key", "site_switch_key", "toolset_switch_key"]

log = get_logger("proxy.switches")
GLOBAL_SWITCH = "switch:mcp_enabled"


@lru_cache(maxsize=4096)  # asked on every request: the same few site names
def site_switch_key(site: str) -> str:
    return f"switch:site:{site}:enabled"


def toolset_switch_key(site: str, toolset: str) -> str:
    return f"switch:site:{site}:toolset:{toolset}"


@lru_cache(maxsize=4096)
def rate_limit_key(site: str) -> str:
    return f"override:site:{site}:rate_limits"


class Switches:
    """The store's runtime settings, cached and refreshed in the background."""

    def __init__(self, store: Store, *, poll_seconds: float) -> None:
        self._store = store
        self._poll = poll_seconds
        self._values: Mapping[str, Any] = {}
        # site_toolsets answers until the next refresh: id(site) -> (site, known, toolsets)
        self._toolsets: dict[int, tuple[SiteRuntime, Mapping[str, object], frozenset[str]]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.create_task(self._loop(), name="switches-poll")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def refresh(self) -> None:
        try:
            self._values = await self._store.get_settings()
            self._toolsets = {}
        except StoreError as error:
            log.warning("switches_refresh_failed", error=type(error).__name__)

    async def _loop(self) -> None:
        while True:  # ends when close() cancels it (the store's guard keeps that cancellation)
            await asyncio.sleep(self._poll)
            await self.refresh()

    def mcp_enabled(self, configured: bool) -> bool:
        return bool(self._values.get(GLOBAL_SWITCH, configured))

    def site_enabled(self, site: SiteRuntime) -> bool:
        return bool(self._values.get(site_switch_key(site.name), site.settings.enabled))

    def site_toolsets(self, site: SiteRuntime, known: Mapping[str, object]) -> frozenset[str]:
        """The site's enabled toolsets: config's, with runtime switches applied (on or off).

        Asked on every MCP request; worked out once per site, rules and refresh of the switches.
        """
        remembered = self._toolsets.get(id(site))
        if remembered is not None and remembered[0] is site and remembered[1] is known:
            return remembered[2]
        toolsets = self._work_out_toolsets(site, known)
        self._toolsets[id(site)] = (site, known, toolsets)
        return toolsets

    def _work_out_toolsets(self, site: SiteRuntime, known: Mapping[str, object]) -> frozenset[str]:
        enabled = set(site.toolsets)
        for toolset in known:
            value = self._values.get(toolset_switch_key(site.name, toolset))
            if value is True:
                enabled.add(toolset)
            elif value is False:
                enabled.discard(toolset)
        return frozenset(enabled)

    def rate_overrides(self, site: str) -> Mapping[str, Any] | None:
        value = self._values.get(rate_limit_key(site))
        return value if isinstance(value, Mapping) else None

    @property
    def values(self) -> Mapping[str, Any]:
        return self._values
