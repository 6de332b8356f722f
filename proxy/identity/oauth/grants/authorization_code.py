"""The authorization_code grant (RFC 6749 §4.1) with mandatory PKCE S256 (RFC 7636, OAuth 2.1).

`issue_code` is called by the authorize endpoint once the WordPress user has consented; the code is a
256-bit handle stored only as a hash, bound to the client, redirect URI, resource, scopes and user, and
lives `code_ttl_seconds`. Exchanging it consumes it; exchanging it again revokes every token the first
exchange produced (§4.1.2), for as long as the code would have lived.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any

from proxy.identity.hashing import handle_hash
from proxy.identity.lifetimes import check_ttl_hours
from proxy.identity.oauth.errors import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    UnauthorizedClientError,
)
from proxy.identity.oauth.grants.base import Grant, mint_user_token, token_response
from proxy.identity.oauth.grants.refresh_token import RefreshTokenGrant
from proxy.identity.oauth.request import TokenRequest
from proxy.identity.scopes import check_scopes
from proxy.identity.tokens import TokenService
from proxy.stores.base import Store
from proxy.stores.records import ClientRecord

__all__ = ["AuthorizationCodeGrant", "s256_challenge"]

_LIVE = "code"
_SPENT = "code_spent"
_INVALID = "The authorization code is invalid, expired or already used."
# RFC 7636 §4.1: 43-128 unreserved characters. An S256 challenge is base64url(SHA-256): exactly 43.
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")


def s256_challenge(verifier: str) -> str:
    """The PKCE S256 code challenge of a verifier."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class AuthorizationCodeGrant(Grant):
    grant_type = "authorization_code"

    def __init__(
        self,
        store: Store,
        tokens: TokenService,
        refresh: RefreshTokenGrant | None,
        *,
        access_ttl_hours: int,
        code_ttl_seconds: float = 60,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """`refresh` issues refresh tokens to clients registered for them; None issues none at all."""
        self._store = store
        self._tokens = tokens
        self._refresh = refresh
        self._access_ttl = check_ttl_hours(access_ttl_hours, what="access_ttl_hours")
        self._code_ttl = code_ttl_seconds
        self._clock = clock

    async def issue_code(
        self,
        *,
        client: ClientRecord,
        wp_user: str,
        redirect_uri: str,
        scopes: Iterable[str],
        resource: str,
        code_challenge: str,
        code_challenge_method: str,
    ) -> str:
        """Store a code for a consented request and return it; OAuthError when the request is not valid.

        The caller has checked that `resource` is this server's audience.
        """
        if self.grant_type not in client.grant_types:
            raise UnauthorizedClientError("This client may not use the authorization_code grant.")
        if redirect_uri not in client.redirect_uris:
            raise InvalidRequestError("The redirect_uri is not registered for this client.")
        if code_challenge_method != "S256" or not _CHALLENGE.fullmatch(code_challenge):
            raise InvalidRequestError("PKCE is required: send an S256 code_challenge.")
        try:
            granted = check_scopes(scopes)
        except ValueError:
            raise InvalidScopeError("The scope parameter is malformed.") from None
        if not set(granted) <= set(client.scopes):
            raise InvalidScopeError("The requested scope exceeds what may be granted to this client.")
        code = secrets.token_urlsafe(32)
        expires_at = self._clock() + self._code_ttl
        data = {
            "client_id": client.client_id,
            "wp_user": wp_user,
            "redirect_uri": redirect_uri,
            "scopes": list(granted),
            "resource": resource,
            "code_challenge": code_challenge,
            "expires_at": expires_at,
        }
        await self._store.put_grant(_LIVE, handle_hash(code), data, expires_at)
        return code

    async def respond(
        self, request: TokenRequest, client: ClientRecord, *, site: str, audience: str
    ) -> dict[str, Any]:
        code = request.require("code")
        redirect_uri = request.require("redirect_uri")
        verifier = request.require("code_verifier")
        if not _VERIFIER.fullmatch(verifier):
            raise InvalidRequestError("The code_verifier must be 43 to 128 unreserved characters.")
        handle = handle_hash(code)
        data = await self._store.take_grant(_LIVE, handle)
        if data is None:
            spent = await self._store.take_grant(_SPENT, handle)
            if spent is not None:
                await self._tokens.revoke_family(spent["family"])
            raise InvalidGrantError(_INVALID)
        if data["client_id"] != client.client_id or self._clock() >= data["expires_at"]:
            raise InvalidGrantError(_INVALID)
        if data["redirect_uri"] != redirect_uri:
            raise InvalidGrantError("The redirect_uri differs from the one the code was issued for.")
        if data["resource"] != audience:
            raise InvalidGrantError("The code was issued for another resource.")
        if not hmac.compare_digest(s256_challenge(verifier), data["code_challenge"]):
            raise InvalidGrantError("The code_verifier does not match the code_challenge.")
        family = secrets.token_urlsafe(16)
        await self._store.put_grant(_SPENT, handle, {"family": family}, data["expires_at"])
        refresh = None
        if self._refresh is not None and self._refresh.grant_type in client.grant_types:
            refresh = await self._refresh.issue(
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
            scopes=data["scopes"],
            ttl_hours=self._access_ttl,
            family=family,
        )
        return token_response(minted, refresh_token=refresh)
