"""Who is calling: the result of authentication that every later stage reads."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Principal", "PrincipalKind"]

PrincipalKind = Literal["api_key", "oauth_client", "oauth_user", "anonymous"]


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated (or anonymous) caller of one site.

    `id` is the key id, the OAuth client id, or the client IP for anonymous callers; `wp_user` is the
    WordPress login whose upstream credential the sidecar uses (None for anonymous); `profile` is the
    toolset profile the credential is limited to (None: no limit); `tier` selects rate limits.
    """

    kind: PrincipalKind
    id: str
    site: str
    wp_user: str | None
    scopes: frozenset[str]
    profile: str | None
    tier: str
    token_id: str | None = None

    @property
    def anonymous(self) -> bool:
        return self.kind == "anonymous"
