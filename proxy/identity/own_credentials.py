"""Spotting our own credentials on requests the sidecar does not authenticate (website passthrough).

An agent pointed at the wrong URL would otherwise hand its API key or access token to WordPress. Only
values that are certainly ours are reported (our API-key shape, a JWT naming our issuer): the website's
own plugins may use X-API-Key or Bearer tokens of their own, and those must pass untouched.
"""

from __future__ import annotations

from collections.abc import Iterable

import jwt

from proxy.headers import AUTHORIZATION, X_API_KEY
from proxy.identity.apikeys import looks_like_api_key

__all__ = ["is_own_credential", "own_credential_headers"]


def is_own_credential(value: str, *, issuer: str) -> bool:
    """True for one of our API keys or an access token our token service says it issued."""
    value = value.strip(" \t")
    if looks_like_api_key(value):
        return True
    if value.count(".") != 2:
        return False
    try:
        claims = jwt.decode(value, options={"verify_signature": False})
    except jwt.PyJWTError:
        return False
    return claims.get("iss") == issuer


def own_credential_headers(
    x_api_keys: Iterable[str], authorizations: Iterable[str], *, issuer: str
) -> frozenset[str]:
    """The lower-case names of the headers carrying one of our credentials (to drop before forwarding)."""
    names = set()
    if any(is_own_credential(value, issuer=issuer) for value in x_api_keys):
        names.add(X_API_KEY.lower())
    for value in authorizations:
        scheme, _, token = value.strip(" \t").partition(" ")
        if scheme.lower() == "bearer" and is_own_credential(token, issuer=issuer):
            names.add(AUTHORIZATION.lower())
    return frozenset(names)
