"""The token endpoint (`/oauth/token` and configured aliases): form or JSON bodies, client_secret_basic
or client_secret_post, answered per RFC 6749 with `Cache-Control: no-store`. The grants themselves live
in proxy.identity.oauth and know nothing of HTTP.

It is the issuer's token endpoint for every site: the `resource` parameter picks the site the token is
for (proxy.endpoints.targets); without one, it is the site the Host reached.

Bodies are read strictly (proxy.mcp.strict_json: UTF-8, no duplicate keys, bounded nesting), like form
parameters that may not repeat (RFC 6749 §3.2): a request two readers could understand differently is
refused, never guessed at."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from proxy.context import RequestContext
from proxy.endpoints.targets import resource_targets
from proxy.errors import SidecarError
from proxy.headers import AUTHORIZATION, REQUEST_ID
from proxy.identity.oauth.endpoint import NO_STORE
from proxy.identity.oauth.errors import InvalidRequestError, OAuthError
from proxy.identity.oauth.request import form_params
from proxy.mcp.strict_json import StrictJsonError, load_json
from proxy.pipeline.base import Stage
from proxy.pipeline.inspect import read_limited
from proxy.services import Services
from proxy.stores.base import StoreUnavailable

__all__ = ["make_oauth"]

_MAX_TOKEN_REQUEST = 16 * 1024
_MAX_JSON_DEPTH = 2  # an object of string parameters


def _invalid(message: str) -> SidecarError:
    return SidecarError(400, "invalid_request", message)


def _params(content_type: str, body: bytes) -> dict[str, Any]:
    if content_type == "application/x-www-form-urlencoded":
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise _invalid("the request body is not UTF-8") from None
        return form_params(parse_qsl(text, keep_blank_values=True, strict_parsing=False))
    if content_type == "application/json":
        try:
            value = load_json(body, max_depth=_MAX_JSON_DEPTH)
        except StrictJsonError as error:
            if error.reason == "duplicate_key":
                raise InvalidRequestError("A parameter was sent more than once.") from None
            raise _invalid("the request body is not a JSON object of string parameters") from None
        if not isinstance(value, dict) or not all(isinstance(item, str) for item in value.values()):
            raise _invalid("the request body is not a JSON object of string parameters")
        return value
    raise SidecarError(
        415, "invalid_request", "send application/x-www-form-urlencoded (or application/json) parameters"
    )


def make_oauth(services: Services) -> Stage:
    endpoint = services.identity.token_endpoint

    async def oauth(ctx: RequestContext) -> web.StreamResponse | None:
        if ctx.route != "oauth":
            return None
        site = ctx.site
        assert site is not None
        request = ctx.request
        path = request.path[len(site.settings.path_prefix) :]
        if path != "/oauth/token" and path not in site.settings.token_path_aliases:
            raise SidecarError(404, "not_found", "no such OAuth endpoint")
        if request.method != "POST":
            raise SidecarError(
                405, "invalid_request", "the token endpoint answers POST", headers={"Allow": "POST"}
            )
        body = await read_limited(ctx, _MAX_TOKEN_REQUEST)
        try:
            authorizations = request.headers.getall(AUTHORIZATION, [])
            if len(authorizations) > 1:
                raise InvalidRequestError("The Authorization header was sent more than once.")
            params = _params(request.content_type, body)
            status, headers, payload = await endpoint.handle(
                params,
                authorizations[0] if authorizations else None,
                targets=resource_targets(ctx.runtime, site),
            )
        except OAuthError as error:
            ctx.code = error.error
            return web.json_response(
                error.body(),
                status=error.status,
                headers={**NO_STORE, **error.headers, REQUEST_ID: ctx.request_id},
            )
        except StoreUnavailable:
            raise SidecarError(
                503,
                "temporarily_unavailable",
                "the credential store cannot be reached",
                headers={"Retry-After": "5"},
            ) from None
        if status >= 400:
            ctx.code = str(payload.get("error", "invalid_request"))
        return web.json_response(payload, status=status, headers={**headers, REQUEST_ID: ctx.request_id})

    return oauth
