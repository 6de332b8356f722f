"""The sites the issuer's OAuth endpoints serve, as the RFC 8707 `resource` parameter names them.

Every site's metadata names one issuer, so its endpoints answer for every site: the site a request is
for is the one whose canonical MCP URL it sends as `resource` (proxy.identity.oauth.resources), not the
one its Host reached.
"""

from __future__ import annotations

from proxy.identity.oauth.resources import ResourceTargets
from proxy.runtime import Runtime, SiteRuntime

__all__ = ["resource_targets", "site_for_resource"]


def resource_targets(runtime: Runtime, reached: SiteRuntime) -> ResourceTargets:
    """Every site by its resource URL; a request naming none is for `reached`, the Host's site."""
    return ResourceTargets({site.resource: site.name for site in runtime.sites}, default=reached.resource)


def site_for_resource(runtime: Runtime, resource: str) -> SiteRuntime | None:
    """The site whose canonical resource URL is exactly `resource` (None: none, e.g. after a reload)."""
    return next((site for site in runtime.sites if site.resource == resource), None)
