"""Which discovery document a request path names, and which site a host-root metadata URL belongs to.

The manifest and the JWKS live under a site's own path (`<path_prefix>/.well-known/...`). RFC 9728
and RFC 8414 instead put the well-known segment at the host root and append the resource's (or
issuer's) path: a sub-directory site `/blog` has its metadata at
`/.well-known/oauth-protected-resource/blog/wp-json/...`, outside its prefix, so `metadata_site`
picks the site by that suffix. Any other `/.well-known/` path (ACME challenges, security.txt) is
not ours and goes to WordPress.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal
from urllib.parse import urlsplit

from proxy.discovery.manifest import MANIFEST_PATH
from proxy.discovery.oauth_metadata import (
    AS_METADATA_WELL_KNOWN,
    PRM_WELL_KNOWN,
    as_metadata_paths,
    prm_paths,
)

if TYPE_CHECKING:
    from proxy.runtime import Runtime, SiteRuntime

__all__ = ["JWKS_PATH", "DocumentKind", "document_kind", "metadata_site"]

DocumentKind = Literal["manifest", "prm", "as", "jwks"]
JWKS_PATH: Final = "/.well-known/jwks.json"


def document_kind(path: str, site: SiteRuntime, runtime: Runtime) -> DocumentKind | None:
    """The document `path` (decoded, as requested, prefix included) asks `site` for; None: not ours.

    Configured fallback routes match here exactly; classify also recognises every other spelling
    WordPress accepts for the ones inside the REST namespace (`?rest_route=`, case, slashes).
    """
    prefix = site.settings.path_prefix
    local = path[len(prefix) :] if prefix and path.startswith(prefix + "/") else path
    if local == MANIFEST_PATH or local in runtime.config.discovery.fallback_routes:
        return "manifest"
    if local == JWKS_PATH:
        return "jwks"
    if path in prm_paths(urlsplit(site.resource).path or "/"):
        return "prm"
    if path in as_metadata_paths(urlsplit(runtime.issuer).path):
        return "as"
    return None


def metadata_site(runtime: Runtime, host: str, path: str) -> SiteRuntime | None:
    """The site whose RFC 9728 / RFC 8414 path-suffixed metadata URL `path` is, on `host`; None when
    `path` is no such URL (select the site the usual way then)."""
    for well_known in (PRM_WELL_KNOWN, AS_METADATA_WELL_KNOWN):
        if path.startswith(well_known + "/"):
            site = runtime.site_for(host, path[len(well_known) :])
            if site is not None and document_kind(path, site, runtime) is not None:
                return site
    return None
