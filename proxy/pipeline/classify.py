"""Stage `classify`: which kind of route is this? Judged on the route WordPress would really reach.

Discovery (our `/.well-known/` documents, the fallback routes) and OAuth endpoints are answered here by the
sidecar; inside a guarded REST namespace, an allowlisted route is `mcp` or `commands`, anything else
is refused with a bare 404; everything outside the guarded namespaces passes through untouched.

The route is read from the exact target forwarded upstream (`site.request_target`), from the fields PHP
reads out of a POSTed form (the body is read once, judged, and forwarded byte for byte), and from every
header PHP reads as `X-HTTP-Method-Override`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import hdrs, web

from proxy.context import RequestContext, RouteKind
from proxy.discovery.routes import document_kind
from proxy.errors import SidecarError
from proxy.pipeline.inspect import read_limited
from proxy.pipeline.site import request_target
from proxy.policy.forms import form_fields, php_form_kind

if TYPE_CHECKING:
    from proxy.runtime import SiteRuntime

__all__ = ["OAUTH_TOKEN_PATH", "classify"]

OAUTH_TOKEN_PATH = "/oauth/token"  # noqa: S105 - a path, not a secret
OAUTH_PREFIX = "/oauth/"
_OVERRIDE_HEADER = "x-http-method-override"
_CACHED_TARGET_LENGTH = 512


def _invalid(message: str) -> SidecarError:
    return SidecarError(400, "invalid_path", message)


async def _form_fields(ctx: RequestContext) -> list[tuple[str, str]] | None:
    """The fields PHP would read into $_POST, where a `rest_route` field also picks the REST route."""
    request = ctx.request
    content_type = request.headers.get(hdrs.CONTENT_TYPE, "")  # aiohttp refuses a repeated Content-Type
    kind = php_form_kind(request.method, content_type)
    if kind is None or not request.body_exists:
        return None
    if request.headers.get("Content-Encoding", "identity").strip().lower() != "identity":
        raise _invalid("a form body with a Content-Encoding cannot be judged")
    ctx.body = await read_limited(ctx, ctx.runtime.config.limits.max_body_bytes)
    return form_fields(kind, content_type, ctx.body)


def _method_override_values(request: web.Request) -> frozenset[str]:
    """`X-HTTP-Method-Override` as PHP's `$_SERVER` sees it: `_` and `-` are one, so every spelling counts."""
    return frozenset(
        value for name, value in request.headers.items() if name.replace("_", "-").lower() == _OVERRIDE_HEADER
    )


def _method_override_header(values: frozenset[str]) -> str | None:
    if len(values) > 1:
        raise _invalid("X-HTTP-Method-Override is given more than once with different values")
    return next(iter(values), None)


@dataclass(frozen=True, slots=True)
class _Route:
    """classify's verdict on one target: what the request is, and the 404 code when it is refused."""

    kind: RouteKind
    rest_route: str | None = None
    denial: str | None = None


async def classify(ctx: RequestContext) -> web.StreamResponse | None:
    site = ctx.site
    assert site is not None
    request = ctx.request
    overrides = _method_override_values(request)
    key = (request.method, request.raw_path, overrides)
    # A POSTed form can name its own route (`rest_route`), so its verdict depends on the body: never
    # cached. Nor are long targets: the cache stays small whatever URLs a client invents.
    cacheable = len(key[1]) <= _CACHED_TARGET_LENGTH and (
        php_form_kind(request.method, request.headers.get(hdrs.CONTENT_TYPE, "")) is None
        or not request.body_exists
    )
    route = site.route_cache.get(key) if cacheable else None
    if route is None:
        route = await _judge(ctx, site, overrides)
        if cacheable:
            site.route_cache.remember(key, route)
    ctx.route, ctx.rest_route = route.kind, route.rest_route
    if route.denial is not None:
        raise SidecarError(404, route.denial, "not found", hidden=True)
    return None


async def _judge(ctx: RequestContext, site: SiteRuntime, overrides: frozenset[str]) -> _Route:
    request = ctx.request
    path = request.path
    if site.settings.path_prefix:
        path = path[len(site.settings.path_prefix) :] or "/"
    if document_kind(request.path, site, ctx.runtime) is not None:
        return _Route("discovery")
    if path == OAUTH_TOKEN_PATH or path.startswith(OAUTH_PREFIX) or path in site.settings.token_path_aliases:
        return _Route("oauth")
    target = site.normalizer.normalize(
        request_target(request),
        form=await _form_fields(ctx),
        method_override_header=_method_override_header(overrides),
    )
    rest_route = target.rest_route
    if rest_route is not None and rest_route in site.discovery_routes:
        return _Route("discovery", rest_route)
    verdict = site.allowlist.decide(target, request.method)
    if verdict.outcome == "unguarded":
        return _Route("passthrough", rest_route)
    if verdict.outcome == "denied":
        return _Route("blocked", rest_route, verdict.code or "route_not_allowlisted")
    return _Route("commands" if verdict.kind == "commands" else "mcp", rest_route)
