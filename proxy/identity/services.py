"""Wiring the identity parts together once, so the app and the tests build them the same way."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from proxy.identity.apikeys import KeyService
from proxy.identity.authenticator import Authenticator
from proxy.identity.clients import ClientService
from proxy.identity.oauth.endpoint import TokenEndpoint
from proxy.identity.oauth.grants.authorization_code import AuthorizationCodeGrant
from proxy.identity.oauth.grants.client_credentials import ClientCredentialsGrant
from proxy.identity.oauth.grants.refresh_token import RefreshTokenGrant
from proxy.identity.settings import IdentitySettings
from proxy.identity.signing import KeyRing
from proxy.identity.tokens import TokenService
from proxy.stores.base import Store

__all__ = ["IdentityServices"]


@dataclass(frozen=True, slots=True)
class IdentityServices:
    keys: KeyService
    keyring: KeyRing
    tokens: TokenService
    clients: ClientService
    authenticator: Authenticator
    authorization_code: AuthorizationCodeGrant
    token_endpoint: TokenEndpoint

    @classmethod
    def build(
        cls,
        store: Store,
        settings: IdentitySettings,
        *,
        pepper: bytes,
        issuer: str,
        clock: Callable[[], float] = time.time,
    ) -> IdentityServices:
        keyring = KeyRing(
            store,
            refresh_seconds=settings.signing_key_refresh_seconds,
            reload_cooldown=settings.signing_key_reload_cooldown_seconds,
            clock=clock,
        )
        tokens = TokenService(
            store,
            keyring,
            issuer=issuer,
            clock=clock,
            revocation_cache_seconds=settings.revocation_cache_seconds,
        )
        keys = KeyService(
            store,
            pepper=pepper,
            default_ttl_hours=settings.api_key_default_ttl_hours,
            clock=clock,
            cache_seconds=settings.revocation_cache_seconds,
        )
        clients = ClientService(store, pepper=pepper, clock=clock)
        access_ttl = settings.access_token_ttl_hours
        refresh = RefreshTokenGrant(
            store,
            tokens,
            access_ttl_hours=access_ttl,
            refresh_ttl_hours=settings.refresh_token_ttl_hours,
            clock=clock,
        )
        code = AuthorizationCodeGrant(
            store,
            tokens,
            refresh,
            access_ttl_hours=access_ttl,
            code_ttl_seconds=settings.authorization_code_ttl_seconds,
            clock=clock,
        )
        client_credentials = ClientCredentialsGrant(tokens, access_ttl_hours=access_ttl)
        return cls(
            keys=keys,
            keyring=keyring,
            tokens=tokens,
            clients=clients,
            authenticator=Authenticator(keys, tokens),
            authorization_code=code,
            token_endpoint=TokenEndpoint(clients, (client_credentials, code, refresh)),
        )
