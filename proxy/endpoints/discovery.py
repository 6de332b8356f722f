"""Discovery answered by the sidecar: /.well-known/mcp.json (and its fallback REST routes), RFC 9728
protected-resource metadata, RFC 8414 authorization-server metadata and the JWKS.

Documents are canonical JSON with a strong content ETag, so every replica answers the same validator
and a polling client pays a 304 when nothing changed. Other /.well-known paths (ACME challenges,
security.txt) are not ours: they pass through to WordPress.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from aiohttp import web

from proxy.context import RequestContext
from proxy.discovery import (
    AnonymousAccess,
    ManifestInput,
    OAuthAdvert,
    Representation,
    ToolsetEntry,
    as_metadata_paths,
    as_metadata_url,
    authorization_server_metadata,
    build_manifest,
    cors_headers,
    evaluate,
    preflight,
    prm_paths,
    protected_resource_metadata,
)
from proxy.discovery.canonical import canonical_json
from proxy.errors import SidecarError
from proxy.headers import REQUEST_ID
from proxy.identity.principal import Principal
from proxy.pipeline.base import Stage
from proxy.runtime import Runtime, SiteRuntime
from proxy.services import Services

__all__ = ["DocumentKind", "document_kind", "make_discovery"]

DocumentKind = Literal["manifest", "prm", "as", "jwks"]
MANIFEST = "/.well-known/mcp.json"
JWKS = "/.well-known/jwks.json"
TOKEN_PATH = "/oauth/token"  # noqa: S105 - a path
AUTHORIZE_PATH = "/oauth/authorize"


def document_kind(path: str, site: SiteRuntime, runtime: Runtime) -> DocumentKind | None:
    """Which of our documents a /.well-known path asks for (None: not ours, pass it through)."""
    if path == MANIFEST:
        return "manifest"
    if path == JWKS:
        return "jwks"
    if path in prm_paths(_path_of(site.resource)):
        return "prm"
    if path in as_metadata_paths(_path_of(runtime.issuer)):
        return "as"
    return None


def _path_of(url: str) -> str:
    rest = url.split("://", 1)[-1]
    slash = rest.find("/")
    return rest[slash:] if slash >= 0 else "/"


def _last_modified(runtime: Runtime) -> float:
    """When the config or rules last changed: stable across replicas deployed from the same files."""
    paths = [
        runtime.config_path,
        runtime.base_dir / runtime.config.rules.tools,
        runtime.base_dir / runtime.config.rules.toolsets,
    ]
    times = [os.stat(path).st_mtime for path in paths if path is not None and os.path.exists(path)]
    return float(int(max(times))) if times else 0.0


class _Discovery:
    def __init__(self, services: Services) -> None:
        self._services = services

    async def __call__(self, ctx: RequestContext) -> web.StreamResponse | None:
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
        if request.method not in ("GET", "HEAD"):
            raise SidecarError(
                405,
                "method_not_allowed",
                "discovery documents answer GET and HEAD",
                headers={"Allow": "GET, HEAD, OPTIONS"},
            )
        document = await self._document(ctx, site)
        representation = Representation(
            canonical_json(document), "application/json", _last_modified(ctx.runtime)
        )
        outcome = evaluate(request.method, request.headers, representation, max_age=settings.max_age_seconds)
        headers = {
            **outcome.headers,
            **cors_headers(request.headers.get("Origin"), settings.cors, preflight=False),
            REQUEST_ID: ctx.request_id,
        }
        return web.Response(status=outcome.status, body=outcome.body or None, headers=headers)

    async def _document(self, ctx: RequestContext, site: SiteRuntime) -> dict[str, Any]:
        runtime = ctx.runtime
        kind = (
            "manifest"
            if ctx.rest_route is not None
            else document_kind(ctx.request.path[len(site.settings.path_prefix) :], site, runtime)
        )
        scopes = sorted(runtime.rules.scopes)
        if kind == "prm":
            return protected_resource_metadata(
                resource=site.resource,
                authorization_servers=[runtime.issuer],
                scopes_supported=scopes,
                resource_documentation=runtime.config.discovery.documentation_url,
                resource_name=site.display_name,
            )
        if kind == "as":
            return authorization_server_metadata(
                issuer=runtime.issuer,
                authorization_endpoint=runtime.issuer + AUTHORIZE_PATH,
                token_endpoint=runtime.issuer + TOKEN_PATH,
                jwks_uri=runtime.issuer + JWKS,
                scopes_supported=scopes,
                grant_types_supported=list(self._services.identity.token_endpoint.grant_types),
            )
        if kind == "jwks":
            return await self._services.identity.keyring.jwks()
        return build_manifest(await self._manifest_input(ctx, site))

    async def _manifest_input(self, ctx: RequestContext, site: SiteRuntime) -> ManifestInput:
        runtime = ctx.runtime
        return ManifestInput(
            site_name=site.display_name,
            base_url=site.public_base,
            mcp_path=site.settings.mcp_path,
            description=site.settings.description or runtime.config.discovery.description,
            documentation_url=runtime.config.discovery.documentation_url,
            oauth=OAuthAdvert(
                protected_resource_metadata=site.resource_metadata,
                authorization_server_metadata=as_metadata_url(runtime.issuer),
                token_endpoint=runtime.issuer + TOKEN_PATH,
                grant_types=self._services.identity.token_endpoint.grant_types,
            ),
            scopes=dict(runtime.rules.scopes),
            toolsets=tuple(
                ToolsetEntry(name, toolset.description, name in ctx.site_toolsets)
                for name, toolset in sorted(runtime.rules.toolsets.items())
            ),
            anonymous=await self._anonymous(ctx, site),
        )

    async def _anonymous(self, ctx: RequestContext, site: SiteRuntime) -> AnonymousAccess | None:
        """What a caller without credentials may use: exactly what the sidecar would let it call."""
        anonymous = site.settings.anonymous
        if not anonymous.enabled or anonymous.wp_user is None:
            return None
        user = site.settings.users[anonymous.wp_user]
        resolver = self._services.capabilities
        assert resolver is not None
        try:
            capabilities = await resolver.resolve(
                site.name, site.upstream_url, anonymous.wp_user, user.app_password
            )
        except SidecarError:
            return AnonymousAccess()  # cannot tell what WordPress allows: advertise nothing
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
        rules = ctx.runtime.rules
        return AnonymousAccess(
            tools=frozenset(name for name in rules.entries["tool"] if view.tool_visible(name)),
            abilities=frozenset(name for name in rules.entries["ability"] if view.ability_visible(name)),
            commands=frozenset(name for name in rules.entries["command"] if view.command_allowed(name)),
        )


def make_discovery(services: Services) -> Stage:
    return _Discovery(services)
