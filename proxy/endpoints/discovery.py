"""Discovery answered by the sidecar: /.well-known/mcp.json (and its fallback routes), RFC 9728
protected-resource metadata, RFC 8414 authorization-server metadata and the JWKS.

Documents are canonical JSON with a strong content ETag, so every replica answers the same validator
and a polling client pays a 304 when nothing changed. They are built once per set of inputs and
kept (proxy.discovery.cache), so a poll costs a lookup. The sidecar has one issuer (the `issuer`
setting, else the first site's public URL): every site's metadata names it, and it signs every token.
Classify sends only our documents here (proxy.discovery.routes); other /.well-known paths go to
WordPress.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from aiohttp import web

from proxy.context import RequestContext
from proxy.discovery import (
    AnonymousAccess,
    ManifestInput,
    OAuthAdvert,
    Representation,
    ToolsetEntry,
    as_metadata_url,
    authorization_server_metadata,
    build_manifest,
    cors_headers,
    evaluate,
    preflight,
    protected_resource_metadata,
)
from proxy.discovery.cache import RepresentationCache
from proxy.discovery.routes import JWKS_PATH, DocumentKind, document_kind
from proxy.endpoints.authorize import AUTHORIZE_PATH
from proxy.endpoints.registration import REGISTER_PATH
from proxy.errors import SidecarError
from proxy.headers import REQUEST_ID
from proxy.identity.principal import Principal
from proxy.pipeline.base import Stage
from proxy.pipeline.classify import OAUTH_TOKEN_PATH
from proxy.runtime import Runtime, SiteRuntime
from proxy.services import Services

__all__ = ["make_discovery"]

_UNRESOLVED: Final = "unresolved"  # WordPress could not say what the anonymous user may do

# What the anonymous part of a manifest is built from: None when anonymous callers are refused.
_AnonymousInput = frozenset[str] | Literal["unresolved"] | None


class _Discovery:
    def __init__(self, services: Services) -> None:
        self._services = services
        self._cache = RepresentationCache()

    async def stage(self, ctx: RequestContext) -> web.StreamResponse | None:
        if ctx.route != "discovery":
            return None
        site = ctx.site
        assert site is not None
        settings = ctx.runtime.config.discovery
        request = ctx.request
        if request.method == "OPTIONS":
            return web.Response(
                status=204, headers={**preflight(request.headers, settings.cors), REQUEST_ID: ctx.request_id}
            )
        # On every answer from here on, errors included: a shared cache must not mix origins.
        ctx.response_headers.update(
            cors_headers(request.headers.get("Origin"), settings.cors, preflight=False)
        )
        if request.method not in ("GET", "HEAD"):
            raise SidecarError(
                405,
                "method_not_allowed",
                "discovery documents answer GET and HEAD",
                headers={"Allow": "GET, HEAD, OPTIONS"},
            )
        kind = document_kind(request.path, site, ctx.runtime) or "manifest"  # else a REST fallback route
        representation = await self._representation(ctx, site, kind)
        outcome = evaluate(request.method, request.headers, representation, max_age=settings.max_age_seconds)
        return web.Response(
            status=outcome.status,
            body=outcome.body or None,
            headers={**outcome.headers, **ctx.response_headers, REQUEST_ID: ctx.request_id},
        )

    async def _representation(
        self, ctx: RequestContext, site: SiteRuntime, kind: DocumentKind
    ) -> Representation:
        runtime = ctx.runtime
        self._cache.bind(runtime)
        if kind == "jwks":
            keyring = self._services.identity.keyring
            await keyring.signing_key()  # a first key exists before anyone caches an empty set
            jwks = await keyring.jwks()
            return self._cache.get("jwks", tuple(key["kid"] for key in jwks["keys"]), lambda: jwks)
        if kind == "as":
            return self._cache.get("as", None, lambda: self._as_metadata(runtime))
        if kind == "prm":
            return self._cache.get((site.name, "prm"), None, lambda: _prm(runtime, site))
        anonymous = await self._anonymous_capabilities(site)
        return self._cache.get(
            (site.name, "manifest"),
            (ctx.site_toolsets, anonymous),
            lambda: self._manifest(ctx, site, anonymous),
        )

    def _as_metadata(self, runtime: Runtime) -> dict[str, Any]:
        issuer = runtime.issuer
        return authorization_server_metadata(
            issuer=issuer,
            authorization_endpoint=issuer + AUTHORIZE_PATH,
            token_endpoint=issuer + OAUTH_TOKEN_PATH,
            jwks_uri=issuer + JWKS_PATH,
            scopes_supported=sorted(runtime.rules.scopes),
            grant_types_supported=list(self._services.identity.token_endpoint.grant_types),
            service_documentation=runtime.config.discovery.documentation_url,
            registration_endpoint=(
                issuer + REGISTER_PATH if runtime.config.identity.dynamic_client_registration else None
            ),
            authorization_response_iss_parameter_supported=True,  # /oauth/authorize sends `iss`
        )

    def _manifest(self, ctx: RequestContext, site: SiteRuntime, anonymous: _AnonymousInput) -> dict[str, Any]:
        runtime = ctx.runtime
        return build_manifest(
            ManifestInput(
                site_name=site.display_name,
                base_url=site.public_base,
                mcp_path=site.settings.mcp_path,
                description=site.settings.description or runtime.config.discovery.description,
                documentation_url=runtime.config.discovery.documentation_url,
                oauth=OAuthAdvert(
                    protected_resource_metadata=site.resource_metadata,
                    authorization_server_metadata=as_metadata_url(runtime.issuer),
                    # the site's own endpoint: it mints tokens for this site's clients and audience
                    token_endpoint=site.public_base + OAUTH_TOKEN_PATH,
                    grant_types=self._services.identity.token_endpoint.grant_types,
                ),
                scopes=dict(runtime.rules.scopes),
                toolsets=tuple(
                    ToolsetEntry(name, toolset.description, name in ctx.site_toolsets)
                    for name, toolset in sorted(runtime.rules.toolsets.items())
                ),
                anonymous=_anonymous_access(ctx, site, anonymous),
            )
        )

    async def _anonymous_capabilities(self, site: SiteRuntime) -> _AnonymousInput:
        """The anonymous WordPress user's capabilities (from the resolver's cache), `_UNRESOLVED`
        when WordPress cannot tell, None when the site refuses anonymous callers."""
        anonymous = site.settings.anonymous
        if not anonymous.enabled or anonymous.wp_user is None:
            return None
        resolver = self._services.capabilities
        assert resolver is not None
        user = site.settings.users[anonymous.wp_user]
        try:
            return await resolver.resolve(
                site.name, site.rest_index_url, anonymous.wp_user, user.app_password, host=site.upstream_host
            )
        except SidecarError:
            return _UNRESOLVED


def _prm(runtime: Runtime, site: SiteRuntime) -> dict[str, Any]:
    return protected_resource_metadata(
        resource=site.resource,
        authorization_servers=[runtime.issuer],
        scopes_supported=sorted(runtime.rules.scopes),
        resource_documentation=runtime.config.discovery.documentation_url,
        resource_name=site.display_name,
    )


def _anonymous_access(
    ctx: RequestContext, site: SiteRuntime, capabilities: _AnonymousInput
) -> AnonymousAccess | None:
    """What a caller without credentials may use: exactly what the sidecar would let it call, hidden
    names never; nothing when WordPress could not say what the anonymous user may do."""
    if capabilities is None:
        return None
    if isinstance(capabilities, str):  # _UNRESOLVED
        return AnonymousAccess()
    anonymous = site.settings.anonymous
    principal = Principal(
        kind="anonymous",
        id="discovery",
        site=site.name,
        wp_user=anonymous.wp_user,
        scopes=frozenset(anonymous.scopes),
        profile=anonymous.profile,
        tier="anonymous",
    )
    view = ctx.runtime.authorizer.view(principal, capabilities, site_toolsets=ctx.site_toolsets)
    entries = ctx.runtime.rules.entries
    return AnonymousAccess(
        tools=frozenset(name for name in entries["tool"] if view.tool_visible(name)),
        abilities=frozenset(name for name in entries["ability"] if view.ability_visible(name)),
        commands=frozenset(name for name in entries["command"] if view.command_allowed(name)),
    )


def make_discovery(services: Services) -> Stage:
    # the bound method: CPython reaches an instance's __call__ through a slower, generic path
    return _Discovery(services).stage
