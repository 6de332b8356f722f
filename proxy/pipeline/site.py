"""Stage `site`: pick the site by Host (and path prefix). An unknown host never reaches a default site.

The request target is checked first: the one the client sent must be the one forwarded upstream
(`request_target`), so what classify judges is what WordPress gets.
"""

from __future__ import annotations

from aiohttp import hdrs, web

from proxy.context import RequestContext
from proxy.discovery.routes import metadata_site
from proxy.errors import SidecarError
from proxy.policy.paths import origin_form, request_path

__all__ = ["request_target", "select_site"]


def request_target(request: web.Request) -> str:
    """The origin-form target (`/path?query`) the forwarder sends upstream, checked to be the one the
    client sent. A fragment, or a target aiohttp would forward in another spelling, is 400 `invalid_path`."""
    forwarded = request.rel_url.raw_path_qs
    if origin_form(request.raw_path).removesuffix("?") != forwarded:
        raise SidecarError(400, "invalid_path", "the request target cannot be forwarded as it was sent")
    return forwarded


async def select_site(ctx: RequestContext) -> web.StreamResponse | None:
    request = ctx.request
    runtime = ctx.runtime
    host = request.headers.get(hdrs.HOST, "")
    candidates = runtime.sites_at(host)
    if not candidates:
        # 421 Misdirected Request: this server is not configured to answer for that authority.
        raise SidecarError(421, "unknown_host", "no site is configured for this Host")
    target = request_target(request)
    # RFC 9728/8414 metadata of a sub-directory site lives at the host root, named by its path suffix
    site = metadata_site(runtime, host, request.path)
    if site is None:
        only = candidates[0]
        one_root_site = len(candidates) == 1 and not only.settings.path_prefix
        site = only if one_root_site else runtime.site_for(host, request_path(target))
    if site is None:
        raise SidecarError(421, "unknown_site", "no site is configured for this Host and path")
    ctx.site = site
    return None
