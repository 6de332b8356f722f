"""Stage `classify`: which kind of route is this? Judged on the route WordPress would really reach.

Discovery (`/.well-known/*` and the fallback routes) and OAuth endpoints are answered here by the
sidecar; inside a guarded REST namespace, an allowlisted route is `mcp` or `commands`, anything else
is refused with a bare 404; everything outside the guarded namespaces passes through untouched.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from aiohttp import web

from proxy.context import RequestContext
from proxy.errors import SidecarError
from proxy.policy.paths import php_reads_form

__all__ = ["OAUTH_TOKEN_PATH", "WELL_KNOWN_PREFIX", "classify"]

WELL_KNOWN_PREFIX = "/.well-known/"
OAUTH_TOKEN_PATH = "/oauth/token"  # noqa: S105 - a path, not a secret
OAUTH_PREFIX = "/oauth/"


async def _form_fields(ctx: RequestContext) -> list[tuple[str, str]] | None:
    """The fields PHP would read into $_POST, where a `rest_route` field also picks the REST route."""
    request = ctx.request
    content_type = request.content_type
    if not php_reads_form(request.method, content_type) or not request.body_exists:
        return None
    if content_type != "application/x-www-form-urlencoded":
        # multipart: WordPress would read a rest_route field too; never forward one unjudged.
        ctx.body = await request.read()
        if b'name="rest_route"' in ctx.body or b"name=rest_route" in ctx.body:
            raise SidecarError(400, "invalid_path", "a rest_route field in a multipart body is not accepted")
        return None
    ctx.body = await request.read()
    try:
        return parse_qsl(ctx.body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise SidecarError(400, "invalid_path", "the form body is not UTF-8") from None


async def classify(ctx: RequestContext) -> web.StreamResponse | None:
    site = ctx.site
    assert site is not None
    request = ctx.request
    path = request.path
    if site.settings.path_prefix:
        path = path[len(site.settings.path_prefix) :] or "/"
    if path.startswith(WELL_KNOWN_PREFIX):
        ctx.route = "discovery"
        return None
    if path == OAUTH_TOKEN_PATH or path.startswith(OAUTH_PREFIX) or path in site.settings.token_path_aliases:
        ctx.route = "oauth"
        return None
    target = site.normalizer.normalize(
        request.rel_url.raw_path_qs,
        form=await _form_fields(ctx),
        method_override_header=request.headers.get("X-HTTP-Method-Override"),
    )
    ctx.rest_route = target.rest_route
    if target.rest_route is not None and target.rest_route in site.discovery_routes:
        ctx.route = "discovery"
        return None
    verdict = site.allowlist.decide(target, request.method)
    if verdict.outcome == "unguarded":
        ctx.route = "passthrough"
        return None
    if verdict.outcome == "denied":
        ctx.route = "blocked"
        raise SidecarError(404, verdict.code or "route_not_allowlisted", "not found", hidden=True)
    ctx.route = "commands" if verdict.kind == "commands" else "mcp"
    return None
