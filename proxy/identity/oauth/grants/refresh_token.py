"""The refresh_token grant (RFC 6749 §6) with rotation on every use (OAuth 2.1, RFC 9700 §4.14).

Refresh tokens are opaque 256-bit handles stored only as hashes, single-use through `take_grant`. A used
handle leaves a "spent" marker until it would have expired; presenting it again means two parties hold
it, so the whole family (every refresh token and access token descended from one authorization code) is
revoked. Lifetimes slide: each rotation gives the new refresh token a full `refresh_ttl_hours`.

A refresh token keeps the revoke-all epochs of its site and client from when it was issued, so
`tokens revoke-all` and removing the client kill it along with the access tokens.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any

from proxy.identity.hashing import handle_hash
from proxy.identity.lifetimes import check_ttl_hours
from proxy.identity.oauth.errors import InvalidGrantError, InvalidScopeError
from proxy.identity.oauth.grants.base import Grant, mint_user_token, narrow_scope, token_response
from proxy.identity.oauth.request import TokenRequest
from proxy.identity.tokens import TokenService
from proxy.stores.base import Store
from proxy.stores.records import ClientRecord

__all__ = ["RefreshTokenGrant"]

_LIVE = "refresh"
_SPENT = "refresh_spent"
_INVALID = "The refresh token is invalid, expired or already used."


class RefreshTokenGrant(Grant):
    grant_type = "refresh_token"

    def __init__(
        self,
        store: Store,
        tokens: TokenService,
        *,
        access_ttl_hours: int,
        refresh_ttl_hours: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if (
            isinstance(refresh_ttl_hours, bool)
            or not isinstance(refresh_ttl_hours, int)
            or refresh_ttl_hours < 1
        ):
            raise ValueError(
                f"refresh_ttl_hours must be a whole number of hours >= 1; got {refresh_ttl_hours!r}"
            )
        self._store = store
        self._tokens = tokens
        self._access_ttl = check_ttl_hours(access_ttl_hours, what="access_ttl_hours")
        self._refresh_ttl = refresh_ttl_hours * 3600
        self._clock = clock

    async def issue(
        self,
        *,
        site: str,
        client_id: str,
        wp_user: str,
        scopes: Iterable[str],
        audience: str,
        family: str,
    ) -> str:
        """Store a new refresh token of `family` and return its handle (shown to the client only)."""
        handle = secrets.token_urlsafe(32)
        expires_at = self._clock() + self._refresh_ttl
        data = {
            "client_id": client_id,
            "wp_user": wp_user,
            "scopes": list(scopes),
            "audience": audience,
            "family": family,
            "epochs": await self._tokens.grant_epochs(site=site, client_id=client_id),
            "expires_at": expires_at,
        }
        await self._store.put_grant(_LIVE, handle_hash(handle), data, expires_at)
        return handle

    async def respond(
        self, request: TokenRequest, client: ClientRecord, *, site: str, audience: str
    ) -> dict[str, Any]:
        handle = handle_hash(request.require("refresh_token"))
        data = await self._store.take_grant(_LIVE, handle)
        if data is None:
            spent = await self._store.take_grant(_SPENT, handle)
            if spent is not None:
                await self._tokens.revoke_family(spent["family"])
            raise InvalidGrantError(_INVALID)
        family = data["family"]
        if data["client_id"] != client.client_id:
            # Another client holds this client's refresh token: treat the family as stolen.
            await self._tokens.revoke_family(family)
            raise InvalidGrantError(_INVALID)
        if (
            self._clock() >= data["expires_at"]
            or await self._tokens.family_revoked(family)
            or await self._tokens.revoked_since(data.get("epochs", {}))
        ):
            raise InvalidGrantError(_INVALID)
        if data["audience"] != audience:
            raise InvalidGrantError("The refresh token was issued for another resource.")
        try:
            # §6: never more than the original grant, nor than the client may have today.
            scopes = narrow_scope(request.param("scope"), (s for s in data["scopes"] if s in client.scopes))
        except InvalidScopeError:
            await self._store.put_grant(_LIVE, handle, data, data["expires_at"])  # a bad ask does not burn it
            raise
        await self._store.put_grant(_SPENT, handle, {"family": family}, data["expires_at"])
        refresh = await self.issue(
            site=site,
            client_id=client.client_id,
            wp_user=data["wp_user"],
            scopes=data["scopes"],
            audience=audience,
            family=family,
        )
        minted = await mint_user_token(
            self._tokens,
            grant_type=self.grant_type,
            site=site,
            audience=audience,
            client_id=client.client_id,
            wp_user=data["wp_user"],
            scopes=scopes,
            ttl_hours=self._access_ttl,
            family=family,
        )
        return token_response(minted, refresh_token=refresh)
