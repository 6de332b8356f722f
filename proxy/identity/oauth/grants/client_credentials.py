"""The client_credentials grant (RFC 6749 §4.4): a confidential client gets a token acting as itself.

No refresh token is issued (§4.4.3): the client can always ask again with its secret.
"""

from __future__ import annotations

from typing import Any

from proxy.identity.lifetimes import check_ttl_hours
from proxy.identity.oauth.errors import UnauthorizedClientError
from proxy.identity.oauth.grants.base import Grant, narrow_scope, token_response
from proxy.identity.oauth.request import TokenRequest
from proxy.identity.tokens import GRANT_CLAIM, WP_USER_CLAIM, TokenService
from proxy.stores.records import ClientRecord

__all__ = ["ClientCredentialsGrant"]


class ClientCredentialsGrant(Grant):
    grant_type = "client_credentials"

    def __init__(self, tokens: TokenService, *, access_ttl_hours: int) -> None:
        self._tokens = tokens
        self._ttl = check_ttl_hours(access_ttl_hours, what="access_ttl_hours")

    async def respond(
        self, request: TokenRequest, client: ClientRecord, *, site: str, audience: str
    ) -> dict[str, Any]:
        if client.secret_hash is None:
            raise UnauthorizedClientError("A public client cannot use the client_credentials grant.")
        scopes = narrow_scope(request.param("scope"), client.scopes)
        minted = await self._tokens.mint(
            site=site,
            audience=audience,
            subject=client.client_id,
            client_id=client.client_id,
            scopes=scopes,
            ttl_hours=self._ttl,
            extra_claims={WP_USER_CLAIM: client.wp_user, GRANT_CLAIM: self.grant_type},
        )
        return token_response(minted)
