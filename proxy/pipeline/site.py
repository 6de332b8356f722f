"""Stage `site`: pick the site by Host (and path prefix). An unknown host never reaches a default site."""

from __future__ import annotations

from aiohttp import web

from proxy.context import RequestContext
from proxy.errors import SidecarError

__all__ = ["select_site"]


async def select_site(ctx: RequestContext) -> web.StreamResponse | None:
    host = ctx.request.headers.get("Host", "")
    site = ctx.runtime.site_for(host, ctx.request.rel_url.raw_path)
    if site is None:
        # 421 Misdirected Request: this server is not configured to answer for that authority.
        raise SidecarError(421, "unknown_host", "no site is configured for this Host")
    ctx.site = site
    return None
