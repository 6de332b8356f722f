"""Stage `classify`: which kind of route is this? Judged on the route WordPress would really reach.

Discovery (our `/.well-known/` documents, the fallback routes) and OAuth endpoints are answered here by the
sidecar; inside a guarded REST namespace, an allowlisted route is `mcp` or `commands`, anything else
is refused with a bare 404; everything outside the guarded namespaces passes through untouched.

The route is read from the exact target forwarded upstream (`site.request_target`), from the fields PHP
reads out of a POSTed form (the body is read once, judged, and forwarded byte for byte), and from every
header PHP reads as `X-HTTP-Method-Override`.
"""

from __future__ import annotations

from aiohttp import web

from proxy.context import RequestContext
from proxy.discovery.routes import document_kind
from proxy.errors import SidecarError
from proxy.pipeline.inspect import read_limited
from proxy.pipeline.site import request_target
from proxy.policy.forms import form_fields, php_form_kind

__all__ = ["OAUTH_TOKEN_PATH", "classify"]

OAUTH_TOKEN_PATH = "/oauth/token"  # noqa: S105 - a path, not a secret
OAUTH_PREFIX = "/oauth/"
_OVERRIDE_HEADER = "x-http-method-override"


def _invalid(message: str) -> SidecarError:
    return SidecarError(400, "invalid_path", message)


async def _form_fields(ctx: RequestContext) -> list[tuple[str, str]] | None:
    """The fields PHP would read into $_POST, where a `rest_route` field also picks the REST route."""
    request = ctx.request
    content_type = request.headers.get("Content-Type", "")  # aiohttp refuses a repeated Content-Type
    kind = php_form_kind(request.method, content_type)
    if kind is None or not request.body_exists:
        return None
    if request.headers.get("Content-Encoding", "identity").strip().lower() != "identity":
        raise _invalid("a form body with a Content-Encoding cannot be judged")
    ctx.body = await read_limited(ctx, ctx.runtime.config.limits.max_body_bytes)
    return form_fields(kind, content_type, ctx.body)


def _method_override_header(request: web.Request) -> str | None:
    """`X-HTTP-Method-Override` as PHP's `$_SERVER` sees it: `_` and `-` are one, so every spelling counts."""
    values = {
        value for name, value in request.headers.items() if name.replace("_", "-").lower() == _OVERRIDE_HEADER
    }
    if len(values) > 1:
        raise _invalid("X-HTTP-Method-Override is given more than once with different values")
    return next(iter(values), None)


async def classify(ctx: RequestContext) -> web.StreamResponse | None:
    site = ctx.site
    assert site is not None
    request = ctx.request
    path = request.path
    if site.settings.path_prefix:
        path = path[len(site.settings.path_prefix) :] or "/"
    if document_kind(request.path, site, ctx.runtime) is not None:
        ctx.route = "discovery"
        return None
    if path == OAUTH_TOKEN_PATH or path.startswith(OAUTH_PREFIX) or path in site.settings.token_path_aliases:
        ctx.route = "oauth"
        return None
    target = site.normalizer.normalize(
        request_target(request),
        form=await _form_fields(ctx),
        method_override_header=_method_override_header(request),
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
