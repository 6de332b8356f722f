"""Reading the credential an MCP request carries, before anything is looked up.

Parsing is strict on purpose: a header we cannot read unambiguously is refused, never guessed at, so two
proxies in a chain can never disagree about who is calling.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal, NamedTuple

from proxy.errors import SidecarError
from proxy.records import new_record

__all__ = ["MAX_CREDENTIAL_BYTES", "Credential", "CredentialError", "extract_credential", "single_value"]

MAX_CREDENTIAL_BYTES = 4096

# RFC 6750 §2.1 b64token: the only characters a bearer token (ours: JWT or API key) may contain.
_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
# Scheme and token are separated by spaces (RFC 9110 §11.4; tabs tolerated). One token, nothing after it.
_AUTHORIZATION = re.compile(r"([!#$%&'*+\-.^_`|~0-9A-Za-z]+)[ \t]+(\S+)")


class CredentialError(Exception):
    """A credential was read but is not valid now.

    Clients only ever learn `invalid_token`; `reason` (unknown, expired, revoked, bad_signature, ...) is
    for logs and metrics so operators can tell the cases apart.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Credential(NamedTuple):
    """The raw credential and where it came from; `bearer` may be a JWT or an API key sent as a token.

    A named tuple: immutable, and cheaper to build than a frozen dataclass (one per request)."""

    source: Literal["bearer", "api_key"]
    value: str


def _malformed(message: str) -> SidecarError:
    return SidecarError(401, "invalid_header", message, challenge=True)


def single_value(values: Sequence[str], header: str) -> str | None:
    """The one value of a credential header, None when absent.

    Sent twice it is refused: proxies differ on which copy they keep, so two readers could see two callers.
    """
    if len(values) > 1:
        raise _malformed(f"The {header} header was sent more than once.")
    return values[0] if values else None


def _sized(value: str, header: str) -> str:
    size = len(value) if value.isascii() else len(value.encode("utf-8", "surrogateescape"))
    if size > MAX_CREDENTIAL_BYTES:
        raise _malformed(f"The {header} header is longer than {MAX_CREDENTIAL_BYTES} bytes.")
    return value


def _token(value: str, header: str) -> str:
    if not _TOKEN.fullmatch(value):
        raise _malformed(f"The {header} header does not hold a single well-formed token.")
    return value


def _bearer(authorization: str) -> str:
    match = _AUTHORIZATION.fullmatch(_sized(authorization, "Authorization").strip(" \t"))
    if match is None:
        raise _malformed("The Authorization header must be 'Bearer <token>'.")
    scheme, token = match.groups()
    if scheme.lower() != "bearer":
        raise _malformed("Only the Bearer scheme is accepted in the Authorization header.")
    return _token(token, "Authorization")


def extract_credential(authorization: str | None, x_api_key: str | None) -> Credential | None:
    """The request's credential, None when it sends none (the caller picks missing_token or anonymous).

    A header that is present but unreadable is a 401 `invalid_header`; sending both an Authorization
    bearer and an X-API-Key is a 400 `invalid_request`, since the two could name different callers (with
    a challenge, so the client still learns where to find the resource metadata).
    """
    bearer = None if authorization is None else _bearer(authorization)
    api_key = None if x_api_key is None else _token(_sized(x_api_key, "X-API-Key").strip(" \t"), "X-API-Key")
    if bearer is not None and api_key is not None:
        raise SidecarError(
            400,
            "invalid_request",
            "Send either an Authorization bearer token or an X-API-Key, not both.",
            challenge=True,
        )
    if bearer is not None:
        return new_record(Credential, ("bearer", bearer))
    if api_key is not None:
        return new_record(Credential, ("api_key", api_key))
    return None
