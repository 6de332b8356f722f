"""Stage `identify`: who is calling. An X-API-Key or a Bearer token of our own token service becomes
a Principal; no credential is a 401 `missing_token` unless the site allows anonymous access.

Challenges carry `resource_metadata` (RFC 9728) so a client can find out how to get a token. On the
website routes it does not authenticate, it still drops our own credentials before they reach WordPress.
"""

from __future__ import annotations

from aiohttp import web

from proxy.context import RequestContext
from proxy.errors import SidecarError
from proxy.headers import AUTHORIZATION, X_API_KEY
from proxy.identity.credentials import extract_credential, single_value
from proxy.identity.own_credentials import own_credential_headers
from proxy.identity.principal import Principal
from proxy.observe import get_logger
from proxy.pipeline.base import Stage
from proxy.ratelimit import address_bucket, client_ip
from proxy.services import Services
from proxy.stores.base import StoreUnavailable

__all__ = ["make_identify"]

log = get_logger("proxy.identify")
_AGENT_ROUTES = frozenset({"mcp", "commands"})


def caller_ip(ctx: RequestContext) -> str:
    """The client address, from X-Forwarded-For only when the peer is a trusted proxy."""
    assert ctx.site is not None
    settings = ctx.site.rate_limits
    forwarded = ",".join(ctx.request.headers.getall("X-Forwarded-For", [])) or None
    return client_ip(ctx.request.remote or "unknown", forwarded, settings.trusted_proxies)


def _anonymous(ctx: RequestContext) -> Principal:
    assert ctx.site is not None
    anonymous = ctx.site.settings.anonymous
    return Principal(
        kind="anonymous",
        id=address_bucket(caller_ip(ctx)),
        site=ctx.site.name,
        wp_user=anonymous.wp_user,
        scopes=frozenset(anonymous.scopes),
        profile=anonymous.profile,
        tier="anonymous",
    )


def make_identify(services: Services) -> Stage:
    authenticator = services.identity.authenticator

    async def identify(ctx: RequestContext) -> web.StreamResponse | None:
        headers = ctx.request.headers
        authorizations = headers.getall(AUTHORIZATION, [])
        api_keys = headers.getall(X_API_KEY, [])
        if ctx.route == "passthrough":
            if authorizations or api_keys:
                ctx.upstream_drop |= own_credential_headers(
                    api_keys, authorizations, issuer=ctx.runtime.issuer
                )
            return None
        if ctx.route not in _AGENT_ROUTES:
            return None
        site = ctx.site
        assert site is not None
        ctx.resource_metadata = site.resource_metadata
        credential = extract_credential(
            single_value(authorizations, AUTHORIZATION), single_value(api_keys, X_API_KEY)
        )
        if credential is None:
            if site.settings.anonymous.enabled:
                ctx.principal = _anonymous(ctx)
                return None
            raise SidecarError(
                401, "missing_token", "This endpoint needs an X-API-Key or a Bearer token.", challenge=True
            )
        try:
            ctx.principal = await authenticator.authenticate(
                credential, site=site.name, audience=site.resource
            )
        except StoreUnavailable:
            log.error("credential_store_unavailable", request_id=ctx.request_id)
            raise SidecarError(
                503,
                "store_unavailable",
                "credentials cannot be checked right now",
                headers={"Retry-After": "5"},
            ) from None
        except SidecarError as error:
            reason = getattr(error.__cause__, "reason", None)
            log.info(
                "credential_refused",
                request_id=ctx.request_id,
                code=error.code,
                reason=reason,
                source=credential.source,
            )
            raise
        return None

    return identify
