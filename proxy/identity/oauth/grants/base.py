"""What every grant shares: the interface, scope narrowing and the token response shape."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any, ClassVar

from proxy.identity.oauth.errors import InvalidScopeError
from proxy.identity.oauth.request import TokenRequest
from proxy.identity.scopes import parse_scope
from proxy.identity.tokens import GRANT_CLAIM, WP_USER_CLAIM, MintedToken, TokenService
from proxy.stores.records import ClientRecord

__all__ = ["Grant", "mint_user_token", "narrow_scope", "token_response"]


class Grant(ABC):
    """One grant type. The endpoint has authenticated the client (allowed this grant type) and picked the
    site and audience from `resource`, a site the client may use; the grant validates the rest and
    answers with a token response."""

    grant_type: ClassVar[str]

    @abstractmethod
    async def respond(
        self, request: TokenRequest, client: ClientRecord, *, site: str, audience: str
    ) -> dict[str, Any]: ...


def narrow_scope(requested: str | None, allowed: Iterable[str]) -> tuple[str, ...]:
    """The scopes to grant: all of `allowed` when none are asked for, else the asked ones if allowed."""
    allowed = tuple(allowed)
    if requested is None:
        return allowed
    try:
        scopes = parse_scope(requested)
    except ValueError:
        raise InvalidScopeError("The scope parameter is malformed.") from None
    if not scopes or not set(scopes) <= set(allowed):
        raise InvalidScopeError("The requested scope exceeds what may be granted to this client.")
    return scopes


def token_response(minted: MintedToken, *, refresh_token: str | None = None) -> dict[str, Any]:
    """RFC 6749 §5.1 body; `expires_in` is left out for a token that never expires."""
    body: dict[str, Any] = {
        "access_token": minted.token,
        "token_type": "Bearer",
        "scope": minted.claims["scope"],
    }
    if minted.expires_in is not None:
        body["expires_in"] = minted.expires_in
    if refresh_token is not None:
        body["refresh_token"] = refresh_token
    return body


async def mint_user_token(
    tokens: TokenService,
    *,
    grant_type: str,
    site: str,
    audience: str,
    client_id: str,
    wp_user: str,
    scopes: Iterable[str],
    ttl_hours: int,
    family: str,
) -> MintedToken:
    """An access token acting as a WordPress user, tied to its refresh-token family (code and refresh)."""
    return await tokens.mint(
        site=site,
        audience=audience,
        subject=wp_user,
        client_id=client_id,
        scopes=scopes,
        ttl_hours=ttl_hours,
        extra_claims={WP_USER_CLAIM: wp_user, GRANT_CLAIM: grant_type},
        family=family,
    )
