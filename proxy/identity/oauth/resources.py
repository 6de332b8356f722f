"""Which site an OAuth request is for: the one its RFC 8707 `resource` parameter names.

The sidecar is one authorization server, with one issuer, for every site it fronts: every site's
protected-resource metadata names that issuer, so the clients of every site come to the same token and
authorization endpoints. There, `resource` (a site's canonical MCP URL, the audience of its tokens)
picks the site; a request naming none is for the site its Host reached; a resource no site has is
`invalid_target`.

Confidential clients belong to the site they were registered for. Public clients (no secret, PKCE only,
as dynamic registration makes them) belong to the issuer: their client id proves nothing, and what they
get on a site is what a user of that site's WordPress approves, so one registration serves every site.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from proxy.stores.records import ClientRecord

__all__ = ["ResourceTargets", "serves_site"]


@dataclass(frozen=True, slots=True)
class ResourceTargets:
    """The resources the issuer mints tokens for (canonical resource URL -> site name), and `default`,
    the resource of the site a request reached, used when it names none."""

    sites: Mapping[str, str]
    default: str

    def __post_init__(self) -> None:
        if self.default not in self.sites:
            raise ValueError(f"the default resource {self.default!r} is not one of the sites'")

    @property
    def default_site(self) -> str:
        return self.sites[self.default]

    def resolve(self, resource: str | None) -> tuple[str, str] | None:
        """(site, audience) for a `resource` parameter (None: the default), None for an unknown one.

        Compared as strings, exactly: the resource is the audience the token will carry."""
        audience = self.default if resource is None else resource
        site = self.sites.get(audience)
        return None if site is None else (site, audience)


def serves_site(client: ClientRecord, site: str) -> bool:
    """Whether `client` may get tokens for `site`: its own site, or any site for a public client."""
    return client.secret_hash is None or client.site == site
