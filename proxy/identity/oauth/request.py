"""A token request, read once from its parameters and Authorization header (RFC 6749 §2.3, §3.2).

Everything the grants need is checked here, before any store is touched: parameters are strings and not
repeated, empty ones count as absent (§3.1), and the client authenticated in exactly one way.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote_plus

from proxy.identity.credentials import MAX_CREDENTIAL_BYTES
from proxy.identity.oauth.errors import InvalidClientError, InvalidRequestError

__all__ = ["AuthMethod", "TokenRequest", "form_params", "parse_token_request"]

AuthMethod = Literal["client_secret_basic", "client_secret_post", "none"]


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """A parsed token request. `client_secret` is None for a public client (`auth_method` "none")."""

    grant_type: str
    client_id: str
    client_secret: str | None
    auth_method: AuthMethod
    params: Mapping[str, str]

    def param(self, name: str) -> str | None:
        return self.params.get(name)

    def require(self, name: str) -> str:
        value = self.params.get(name)
        if value is None:
            raise InvalidRequestError(f"The {name} parameter is required.")
        return value


def form_params(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """A dict of request parameters, refusing any parameter sent twice (RFC 6749 §3.2)."""
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise InvalidRequestError("A parameter was sent more than once.")
        params[name] = value
    return params


def _basic_credentials(authorization: str, realm: str) -> tuple[str, str]:
    def refused() -> InvalidClientError:
        return InvalidClientError(
            "The Authorization header must carry HTTP Basic client credentials.", basic_realm=realm
        )

    if len(authorization) > MAX_CREDENTIAL_BYTES:
        raise refused()
    scheme, _, encoded = authorization.strip(" \t").partition(" ")
    if scheme.lower() != "basic":
        raise refused()
    try:
        decoded = base64.b64decode(encoded.strip(" \t"), validate=True).decode("utf-8")
        raw_id, colon, raw_secret = decoded.partition(":")
        # RFC 6749 §2.3.1: both halves are form-urlencoded before being joined.
        client_id = unquote_plus(raw_id, errors="strict")
        secret = unquote_plus(raw_secret, errors="strict")
    except (binascii.Error, ValueError):
        raise refused() from None
    if not colon or not client_id or not secret:
        raise refused()
    return client_id, secret


def parse_token_request(params: Mapping[str, Any], authorization: str | None, *, realm: str) -> TokenRequest:
    """Read a token request; `realm` names the Basic realm in a 401 answer."""
    if not all(isinstance(value, str) for value in params.values()):
        raise InvalidRequestError("Every parameter must be a string.")
    present: dict[str, str] = {name: value for name, value in params.items() if value}
    grant_type = present.get("grant_type")
    if grant_type is None:
        raise InvalidRequestError("The grant_type parameter is required.")
    body_id, body_secret = present.get("client_id"), present.get("client_secret")
    if authorization is not None and authorization.strip(" \t"):
        if body_secret is not None:
            raise InvalidRequestError("Authenticate the client with one method only, not header and body.")
        client_id, secret = _basic_credentials(authorization, realm)
        if body_id is not None and body_id != client_id:
            raise InvalidRequestError("The client_id parameter does not match the Authorization header.")
        return TokenRequest(grant_type, client_id, secret, "client_secret_basic", present)
    if body_id is None:
        if body_secret is not None:
            raise InvalidRequestError("A client_secret was sent without its client_id.")
        raise InvalidClientError("Client authentication is required.", basic_realm=realm)
    method: AuthMethod = "none" if body_secret is None else "client_secret_post"
    return TokenRequest(grant_type, body_id, body_secret, method, present)
