"""Long-lived parts shared by every Runtime: they survive reloads (connections, caches, metrics)."""

from __future__ import annotations

from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from proxy.observe import Metrics
from proxy.runtime import RuntimeHolder
from proxy.upstream import Forwarder

__all__ = ["SERVICES_KEY", "Services"]


@dataclass(slots=True)
class Services:
    holder: RuntimeHolder
    metrics: Metrics
    forwarder: Forwarder

    def readiness_checks(self) -> dict[str, Coroutine[Any, Any, str | None]]:
        """Extra readiness probes (store, ...): name -> coroutine giving a problem or None."""
        return {}

    async def close(self) -> None:
        await self.forwarder.close()


SERVICES_KEY = web.AppKey("sidecar_services", Services)
