"""Stage `gate`: the global and per-site switches, enabled toolsets, Origin and entitlement.

A switched-off surface answers a bare 404, as if it did not exist. A site that is not entitled answers
403 `not_entitled` on MCP routes (and 404 on discovery, which must not advertise it).
"""

from __future__ import annotations

from aiohttp import hdrs, web

from proxy.context import RequestContext
from proxy.errors import SidecarError
from proxy.observe import get_logger
from proxy.pipeline.base import Stage
from proxy.policy.entitlement import EntitlementReason
from proxy.services import Services

__all__ = ["GUARDED_ROUTES", "make_gate"]

log = get_logger("proxy.gate")
GUARDED_ROUTES = frozenset({"mcp", "commands", "discovery", "oauth"})
_AGENT_ROUTES = frozenset({"mcp", "commands"})


# What an agent is told; the log line carries the source's detail (never shown: it names internals).
_WHY: dict[EntitlementReason, str] = {
    "ok": "",
    "not_entitled": "this site is not entitled to use MCP",
    "module_missing": "the MCP module is not active for this site",
    "plugin_missing": "the MCP plugin of this site is not installed (or was renamed) in WordPress",
    "entitlement_unavailable": "this site's MCP entitlement cannot be confirmed right now",
}


def _hidden(code: str) -> SidecarError:
    return SidecarError(404, code, "not found", hidden=True)


def make_gate(services: Services) -> Stage:
    async def gate(ctx: RequestContext) -> web.StreamResponse | None:
        if ctx.route not in GUARDED_ROUTES:
            return None
        site = ctx.site
        assert site is not None
        runtime = ctx.runtime
        state = services.switches.site_state(
            site, mcp_configured=runtime.config.mcp_enabled, known=runtime.rules.toolsets
        )
        if not state.mcp_enabled:
            raise _hidden("mcp_disabled")
        if not state.site_enabled:
            raise _hidden("site_disabled")
        ctx.site_toolsets = state.toolsets
        if not ctx.site_toolsets:
            raise _hidden("no_toolsets_enabled")
        if ctx.route in _AGENT_ROUTES:
            origin = ctx.request.headers.get(hdrs.ORIGIN)
            if origin is not None and origin.rstrip("/").lower() not in site.allowed_origins:
                # DNS-rebinding protection: a browser page from another origin must not drive the site.
                raise SidecarError(403, "origin_not_allowed", "this Origin may not use the MCP endpoint")
        entitlement = await services.entitlement(site).check(
            site.name, index_url=site.rest_index_url, index_host=site.upstream_host
        )
        services.metrics.entitlement.inc(site.name, entitlement.reason)
        if entitlement.entitled:
            return None
        log.warning(
            "site_not_entitled",
            site=site.name,
            reason=entitlement.reason,
            detail=entitlement.detail,
            request_id=ctx.request_id,
        )
        if ctx.route not in _AGENT_ROUTES:
            raise _hidden("not_entitled")
        raise SidecarError(403, "not_entitled", _WHY[entitlement.reason], data={"reason": entitlement.reason})

    return gate
