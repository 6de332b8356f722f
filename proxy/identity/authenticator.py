"""From a request's credential to a Principal: the identify stage's whole decision, without aiohttp.

Every failure is the same 401 `invalid_token` with the same sentence, so a client cannot tell an unknown
key from a revoked one or a token of another site; the internal reason rides on `__cause__`
(a CredentialError) for logs and metrics.
"""

from __future__ import annotations

from proxy.caching import Memo
from proxy.errors import SidecarError
from proxy.identity.apikeys import KeyService, looks_like_api_key
from proxy.identity.credentials import Credential, CredentialError
from proxy.identity.principal import Principal
from proxy.identity.tokens import GRANT_CLAIM, WP_USER_CLAIM, TokenService
from proxy.stores.records import ApiKeyRecord

__all__ = ["Authenticator"]

_MESSAGE = "The access token is invalid, expired or revoked."


class Authenticator:
    def __init__(self, keys: KeyService, tokens: TokenService) -> None:
        self._keys = keys
        self._tokens = tokens
        # An API key's principal, built once per key record read (KeyService hands back the same record
        # object until its cache entry expires): (key id, site, tier) -> (record, principal).
        self._key_principals: Memo[tuple[str, str, str], tuple[ApiKeyRecord, Principal]] = Memo(10_000)

    async def authenticate(
        self, credential: Credential, *, site: str, audience: str, tier: str = "authenticated"
    ) -> Principal:
        """The principal `credential` stands for on `site`; SidecarError 401 invalid_token otherwise.

        An X-API-Key, or a bearer token shaped like one of our keys, is an API key; any other bearer
        token must be an access token minted for `audience`.
        """
        try:
            if credential.source == "api_key" or looks_like_api_key(credential.value):
                return self._key_principal(await self._keys.authenticate(credential.value), site, tier)
            return await self._access_token(credential.value, site, audience, tier)
        except CredentialError as error:
            raise SidecarError(401, "invalid_token", _MESSAGE, challenge=True) from error

    def _key_principal(self, record: ApiKeyRecord, site: str, tier: str) -> Principal:
        """The principal of a live key's record on `site` (built once per record read)."""
        if record.site != site:
            raise CredentialError("other_site")
        memo_key = (record.id, site, tier)
        known = self._key_principals.get(memo_key)
        if known is not None and known[0] is record:
            return known[1]
        principal = Principal(
            kind="api_key",
            id=record.id,
            site=site,
            wp_user=record.wp_user,
            scopes=frozenset(record.scopes),
            profile=record.profile,
            tier=tier,
        )
        self._key_principals.remember(memo_key, (record, principal))
        return principal

    async def _access_token(self, token: str, site: str, audience: str, tier: str) -> Principal:
        claims = await self._tokens.verify(token, audience=audience, site=site)
        wp_user = claims.get(WP_USER_CLAIM)
        if not isinstance(wp_user, str) or not wp_user:
            raise CredentialError("no_wp_user")
        return Principal(
            kind="oauth_client" if claims.get(GRANT_CLAIM) == "client_credentials" else "oauth_user",
            id=claims["client_id"],
            site=site,
            wp_user=wp_user,
            scopes=frozenset(claims["scope"].split()),
            profile=None,
            tier=tier,
            token_id=claims["jti"],
        )
