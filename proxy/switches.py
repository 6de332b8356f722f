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
from typing import Any, NamedTuple

from proxy.observe import get_logger
from proxy.runtime import SiteRuntime
from proxy.stores.base import Store, StoreError

__all__ = [
    "GLOBAL_SWITCH",
    "SiteState",
    "Switches",
    "rate_limit_key",
    "site_switch_key",
    "toolset_switch_key",
]

log = get_logger("proxy.switches")
GLOBAL_SWITCH = "switch:mcp_enabled"


def site_switch_key(site: str) -> str:
    return f"switch:site:{site}:enabled"


def toolset_switch_key(site: str, toolset: str) -> str:
    return f"switch:site:{site}:toolset:{toolset}"


@lru_cache(maxsize=4096)
def rate_limit_key(site: str) -> str:
    return f"override:site:{site}:rate_limits"


class SiteState(NamedTuple):
    """What the switches say for one site: MCP on at all, this site on, and its enabled toolsets."""

    mcp_enabled: bool
    site_enabled: bool
    toolsets: frozenset[str]


class Switches:
    """The store's runtime settings, cached and refreshed in the background."""

    def __init__(self, store: Store, *, poll_seconds: float) -> None:
        self._store = store
        self._poll = poll_seconds
        self._values: Mapping[str, Any] = {}
        # site_state answers until the next refresh: id(site) -> (site, configured, known, state)
        self._states: dict[int, tuple[SiteRuntime, bool, Mapping[str, object], SiteState]] = {}
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
            self._states = {}
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

    def site_state(
        self, site: SiteRuntime, *, mcp_configured: bool, known: Mapping[str, object]
    ) -> SiteState:
        """Everything the gate asks of the switches for `site` (`mcp_configured`: config's global switch,
        `known`: the rules' toolsets). Asked on every MCP request; worked out once per site, config,
        rules and refresh of the switches."""
        remembered = self._states.get(id(site))
        if (
            remembered is not None
            and remembered[0] is site
            and remembered[1] is mcp_configured
            and remembered[2] is known
        ):
            return remembered[3]
        state = SiteState(
            self.mcp_enabled(mcp_configured), self.site_enabled(site), self._work_out_toolsets(site, known)
        )
        self._states[id(site)] = (site, mcp_configured, known, state)
        return state

    def _work_out_toolsets(self, site: SiteRuntime, known: Mapping[str, object]) -> frozenset[str]:
        """The site's enabled toolsets: config's, with runtime switches applied (on or off)."""
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
        return value if value is not None and isinstance(value, Mapping) else None  # None: no ABC check

    @property
    def values(self) -> Mapping[str, Any]:
        return self._values
