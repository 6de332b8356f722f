"""The stage interface: `async (ctx) -> Response | None`. None goes on; a response ends the chain."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from proxy.context import RequestContext

__all__ = ["Stage"]

Stage = Callable[[RequestContext], Awaitable[web.StreamResponse | None]]
