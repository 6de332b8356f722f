"""POST /oauth/register: Dynamic Client Registration (RFC 7591) for MCP clients that start from a URL.

Open to anyone, as MCP clients need it to be, within `rate_limits.registration` per client address;
`identity.dynamic_client_registration: false` turns it off (the path then answers 404 and the metadata
stops advertising it), leaving pre-registered clients (`mcp-sidecar clients add --redirect-uri ...
--public`).

The clients made here are public, so they belong to the issuer, not to a site: one registration serves
every site, the one named by `resource` when a user authorizes it (proxy.identity.oauth.resources).
They are listed under the site whose host they registered at (normally the issuer's).
"""

from __future__ import annotations

from aiohttp import web

from proxy.context import RequestContext
from proxy.errors import SidecarError
from proxy.headers import REQUEST_ID
from proxy.identity.oauth.registration import RegistrationError, register_client
from proxy.mcp.strict_json import StrictJsonError, load_json
from proxy.observe import get_logger
from proxy.pipeline.base import Stage
from proxy.pipeline.identify import caller_ip
from proxy.pipeline.inspect import read_limited
from proxy.pipeline.limit import limits_in_force, spend
from proxy.ratelimit import address_bucket
from proxy.ratelimit.settings import REGISTRATION
from proxy.ratelimit.usage import ONE_REQUEST
from proxy.services import Services
from proxy.stores.base import StoreUnavailable

__all__ = ["REGISTER_PATH", "make_registration"]

REGISTER_PATH = "/oauth/register"
_MAX_REGISTRATION = 16 * 1024
_MAX_JSON_DEPTH = 4  # client metadata: an object of strings, lists and the odd small object (jwks)
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

log = get_logger("proxy.registration")


def make_registration(services: Services) -> Stage:
    clients = services.identity.clients

    async def registration(ctx: RequestContext) -> web.StreamResponse | None:
        site = ctx.site
        if ctx.route != "oauth" or site is None:
            return None
        path = ctx.request.path[len(site.settings.path_prefix) :]
        if path != REGISTER_PATH or not ctx.runtime.config.identity.dynamic_client_registration:
            return None
        request = ctx.request
        if request.method != "POST":
            raise SidecarError(405, "invalid_request", "registration answers POST", headers={"Allow": "POST"})
        if request.content_type != "application/json":
            raise SidecarError(415, "invalid_client_metadata", "send the client metadata as application/json")
        # Anyone may register, and each registration is a write: counted per client address first.
        in_force = limits_in_force(services, ctx)
        if in_force is not None:
            key = address_bucket(caller_ip(ctx))
            await spend(services, ctx, in_force[0], tier=REGISTRATION, key=key, usage=lambda: ONE_REQUEST)
        headers = {**_NO_STORE, **ctx.response_headers, REQUEST_ID: ctx.request_id}
        try:
            try:
                metadata = load_json(await read_limited(ctx, _MAX_REGISTRATION), max_depth=_MAX_JSON_DEPTH)
            except StrictJsonError:
                raise RegistrationError("invalid_client_metadata", "The body is not valid JSON.") from None
            document = await register_client(
                metadata, clients=clients, site=site.name, known_scopes=ctx.runtime.rules.scopes
            )
        except RegistrationError as error:
            ctx.code = error.error
            return web.json_response(error.body(), status=400, headers=headers)
        except StoreUnavailable:
            raise SidecarError(
                503,
                "temporarily_unavailable",
                "the client store cannot be reached",
                headers={"Retry-After": "5"},
            ) from None
        log.info(
            "client_registered",
            request_id=ctx.request_id,
            site=site.name,
            client_id=document["client_id"],
            client_name=document["client_name"],
        )
        return web.json_response(document, status=201, headers=headers)

    return registration
