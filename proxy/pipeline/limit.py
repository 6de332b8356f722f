"""Stage `limit`: rate limits by tier, principal (or client address), tool and command.

Every governed response carries the limit headers; a refused request gets 429 with `Retry-After`
in the route's own dialect and never reaches WordPress.
"""

from __future__ import annotations

from aiohttp import web

from proxy.context import RequestContext
from proxy.mcp.commands import CommandEnvelope
from proxy.pipeline.base import Stage
from proxy.ratelimit import rate_limit_error, rate_limit_headers
from proxy.services import Services

__all__ = ["make_limit"]


def make_limit(services: Services) -> Stage:
    async def limit(ctx: RequestContext) -> web.StreamResponse | None:
        principal = ctx.principal
        if principal is None or ctx.site is None:
            return None
        command = ctx.mcp.command if isinstance(ctx.mcp, CommandEnvelope) else None
        decision = await services.limiter.check(
            site=ctx.site.name,
            tier=principal.tier,
            principal_key=f"{principal.kind}:{principal.id}",
            tool=None if command else (ctx.ability or ctx.tool),
            command=command,
            overrides=services.switches.rate_overrides(ctx.site.name),
        )
        services.metrics.ratelimit.labels(ctx.site.name, principal.tier, decision.outcome).inc()
        ctx.response_headers.update(rate_limit_headers(decision))
        if not decision.allowed:
            raise rate_limit_error(decision)
        return None

    return limit
