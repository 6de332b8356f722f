"""Access tokens: ES256-signed JWTs (RFC 9068 shape) minted and verified by the sidecar itself.

A token is dead when it is expired, its `jti` is revoked, or it was minted under an older revoke-all
epoch of its site, its client or its refresh family. Revocation and epochs are read from the store and
cached for `revocation_cache_seconds`, so a revocation made on another replica takes effect within that
time (at once on the replica that made it), and a busy token costs no store read per request.

A lifetime of 0 hours means the token carries no `exp` claim: it lives until revoked, or until its
signing key is retired.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from proxy.caching import ExpiringMemo, cached
from proxy.identity.credentials import CredentialError
from proxy.identity.lifetimes import check_ttl_hours
from proxy.identity.scopes import check_scopes, format_scope
from proxy.identity.signing import ALGORITHM, KeyRing
from proxy.stores.base import Store

__all__ = [
    "GRANT_CLAIM",
    "JWT_TYPE",
    "WP_USER_CLAIM",
    "MintedToken",
    "TokenService",
    "client_epoch",
    "family_epoch",
    "new_token_id",
    "site_epoch",
]

JWT_TYPE = "at+jwt"  # RFC 9068: keeps our access tokens apart from any other JWT signed with the same keys
# Extra claims the OAuth grants set and the authenticator reads: who the token acts as upstream, and the
# grant type it came from ("client_credentials" tokens act for the client itself, others for a user).
WP_USER_CLAIM = "wp_user"
GRANT_CLAIM = "gty"
_RESERVED = frozenset(
    {"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "scope", "client_id", "site", "fid", "epochs"}
)
_REQUIRED = ["iss", "sub", "aud", "iat", "jti", "scope", "client_id", "site", "epochs"]


@dataclass(frozen=True, slots=True)
class MintedToken:
    """A signed token; `expires_in` (seconds) is None for a token that never expires."""

    token: str
    claims: dict[str, Any]
    expires_in: int | None


def new_token_id() -> str:
    """A `jti`: 128 random bits in hex, so it never starts with "-" and `tokens revoke JTI` never
    mistakes it for an option (URL-safe base64 did, about one token in 64)."""
    return secrets.token_hex(16)


def site_epoch(site: str) -> str:
    """The store epoch scope whose bump kills every token of a site."""
    return f"site:{site}"


def client_epoch(client_id: str) -> str:
    """The store epoch scope whose bump kills every token of a client."""
    return f"client:{client_id}"


def family_epoch(family: str) -> str:
    """The store epoch scope whose bump kills every token of a refresh-token family."""
    return f"family:{family}"


def _epoch_scopes(site: str, client_id: str, family: str | None) -> list[str]:
    return [site_epoch(site), client_epoch(client_id), *([] if family is None else [family_epoch(family)])]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return _is_int(value) or (isinstance(value, float) and math.isfinite(value))


class TokenService:
    def __init__(
        self,
        store: Store,
        keyring: KeyRing,
        *,
        issuer: str,
        clock: Callable[[], float] = time.time,
        revocation_cache_seconds: float = 5,
    ) -> None:
        self._store = store
        self._keyring = keyring
        self._issuer = issuer
        self._clock = clock
        self._revoked: ExpiringMemo[str, bool] = ExpiringMemo(65536, revocation_cache_seconds, timer=clock)
        self._epochs: ExpiringMemo[str, int] = ExpiringMemo(8192, revocation_cache_seconds, timer=clock)

    async def mint(
        self,
        *,
        site: str,
        audience: str,
        subject: str,
        client_id: str,
        scopes: Iterable[str],
        ttl_hours: int,
        extra_claims: Mapping[str, Any] | None = None,
        family: str | None = None,
    ) -> MintedToken:
        """Sign a token for `audience`; `family` ties it to a refresh-token family that can be revoked."""
        ttl = check_ttl_hours(ttl_hours, what="ttl_hours")
        extra = dict(extra_claims or {})
        if clash := _RESERVED.intersection(extra):
            raise ValueError(f"extra_claims may not set {sorted(clash)}")
        epochs = await self._fresh_epochs(_epoch_scopes(site, client_id, family))
        now = int(self._clock())
        claims: dict[str, Any] = {
            **extra,
            "iss": self._issuer,
            "sub": subject,
            "aud": audience,
            "iat": now,
            "jti": new_token_id(),
            "scope": format_scope(check_scopes(scopes)),
            "client_id": client_id,
            "site": site,
            "epochs": epochs,
        }
        if family is not None:
            claims["fid"] = family
        if ttl:
            claims["exp"] = now + ttl * 3600
        key = await self._keyring.signing_key()
        token = jwt.encode(
            claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": JWT_TYPE}
        )
        return MintedToken(token, claims, ttl * 3600 or None)

    async def verify(self, token: str, *, audience: str, site: str) -> dict[str, Any]:
        """The claims of a live token for this audience and site; CredentialError (with a reason) if not."""
        claims = await self._decode(token, audience)
        if "exp" in claims and self._clock() >= claims["exp"]:
            raise CredentialError("expired")
        if claims["site"] != site:
            raise CredentialError("wrong_site")
        epochs = claims["epochs"]
        if (
            not isinstance(epochs, dict)
            or not all(_is_int(value) for value in epochs.values())
            or not set(_epoch_scopes(site, claims["client_id"], claims.get("fid"))) <= epochs.keys()
        ):
            raise CredentialError("malformed_claims")
        for scope, minted_under in epochs.items():
            if minted_under < await self._epoch(scope):
                raise CredentialError("revoked_all")
        if await self._is_revoked(claims["jti"]):
            raise CredentialError("revoked")
        return claims

    async def revoke(self, jti: str, expires_at: float | None) -> None:
        """Deny one token (until `expires_at`, when it would have died anyway; None: forever)."""
        await self._store.revoke_token(jti, expires_at)
        self._revoked[jti] = True

    async def revoke_all(self, *, site: str | None = None, client_id: str | None = None) -> None:
        """Kill every token minted so far for a site and/or a client."""
        if site is None and client_id is None:
            raise ValueError("revoke_all needs a site or a client_id")
        scopes = [site_epoch(site)] if site is not None else []
        scopes += [client_epoch(client_id)] if client_id is not None else []
        for scope in scopes:
            self._epochs[scope] = await self._store.bump_epoch(scope)

    async def grant_epochs(self, *, site: str, client_id: str) -> dict[str, int]:
        """The revoke-all epochs of a site and client now, for a grant that outlives access tokens (a
        refresh token) to be checked against with `revoked_since`."""
        return await self._fresh_epochs(_epoch_scopes(site, client_id, None))

    async def revoked_since(self, epochs: Mapping[str, int]) -> bool:
        """True when a revoke-all happened after `epochs` were taken (read fresh: this is rare)."""
        current = await self._fresh_epochs(epochs)
        return any(taken < current[scope] for scope, taken in epochs.items())

    async def _fresh_epochs(self, scopes: Iterable[str]) -> dict[str, int]:
        # Read from the store, never the cache: a cached, older epoch would mint a token that is dead on
        # arrival, or let a grant outlive a revoke-all.
        epochs = {}
        for scope in scopes:
            epochs[scope] = self._epochs[scope] = await self._store.get_epoch(scope)
        return epochs

    async def revoke_family(self, family: str) -> None:
        """Kill every access token minted from one refresh-token family."""
        scope = family_epoch(family)
        self._epochs[scope] = await self._store.bump_epoch(scope)

    async def family_revoked(self, family: str) -> bool:
        """True once `revoke_family` was called for this family (read fresh: refresh is rare)."""
        return await self._store.get_epoch(family_epoch(family)) > 0

    async def _decode(self, token: str, audience: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise CredentialError("malformed") from None
        if header.get("alg") != ALGORITHM or header.get("typ") != JWT_TYPE:
            raise CredentialError("wrong_algorithm_or_type")
        kid = header.get("kid")
        key = await self._keyring.public_key(kid) if isinstance(kid, str) else None
        if key is None:
            raise CredentialError("unknown_kid")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=audience,
                issuer=self._issuer,
                # Time is checked against our own clock (see verify), not the library's.
                options={
                    "require": _REQUIRED,
                    "strict_aud": True,
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise CredentialError("bad_signature") from None
        except jwt.InvalidAudienceError:
            raise CredentialError("wrong_audience") from None
        except jwt.InvalidIssuerError:
            raise CredentialError("wrong_issuer") from None
        except jwt.PyJWTError:
            raise CredentialError("malformed_claims") from None
        strings = ("sub", "jti", "scope", "client_id", "site", *(("fid",) if "fid" in claims else ()))
        if not all(isinstance(claims[name], str) for name in strings) or (
            "exp" in claims and not _is_number(claims["exp"])
        ):
            raise CredentialError("malformed_claims")
        return claims

    async def _epoch(self, scope: str) -> int:
        epoch = cached(self._epochs, scope, None)
        if epoch is None:
            epoch = self._epochs[scope] = await self._store.get_epoch(scope)
        return epoch

    async def _is_revoked(self, jti: str) -> bool:
        revoked = cached(self._revoked, jti, None)
        if revoked is None:
            revoked = self._revoked[jti] = await self._store.is_token_revoked(jti)
        return revoked
