"""Dynamic Client Registration (RFC 7591) of public MCP clients.

An MCP client given only a URL (Claude, the mcp SDK) registers itself before the authorization flow.
Anyone may register, so a registration grants nothing by itself: it makes a public client (no secret,
PKCE only) of the authorization-code grant whose redirect URIs are https or loopback http. What the
client may then do is decided when a WordPress user approves it, by name, on WordPress's own page.
Requested metadata the sidecar does not support is replaced where RFC 7591 §3.2.1 allows it (the
token endpoint authentication method, unknown scopes) and refused otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from proxy.identity.clients import ClientService, check_redirect_uri
from proxy.identity.scopes import parse_scope

__all__ = ["RegistrationError", "register_client"]

MAX_REDIRECT_URIS = 10
MAX_NAME = 100
DEFAULT_NAME = "MCP client"
_GRANT_TYPES = ("authorization_code", "refresh_token")


class RegistrationError(Exception):
    """A refused registration (RFC 7591 §3.2.2): `invalid_redirect_uri` or `invalid_client_metadata`."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def _metadata_error(description: str) -> RegistrationError:
    return RegistrationError("invalid_client_metadata", description)


def _strings(metadata: dict[str, Any], name: str, default: list[str]) -> list[str]:
    value = metadata.get(name, default)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _metadata_error(f"{name} must be a list of strings.")
    return value


def _redirect_uris(metadata: dict[str, Any]) -> list[str]:
    uris = metadata.get("redirect_uris")
    if (
        not isinstance(uris, list)
        or not 1 <= len(uris) <= MAX_REDIRECT_URIS
        or not all(isinstance(uri, str) for uri in uris)
    ):
        raise RegistrationError(
            "invalid_redirect_uri", f"redirect_uris must be a list of 1 to {MAX_REDIRECT_URIS} URLs."
        )
    try:
        return [check_redirect_uri(uri) for uri in uris]
    except ValueError:
        raise RegistrationError(
            "invalid_redirect_uri",
            "Redirect URIs must be https, or http on a loopback host, without fragment.",
        ) from None


def _scopes(metadata: dict[str, Any], known: tuple[str, ...]) -> tuple[str, ...]:
    requested = metadata.get("scope")
    if requested is None:
        return known
    try:
        asked = parse_scope(requested) if isinstance(requested, str) else None
    except ValueError:
        asked = None
    if asked is None:
        raise _metadata_error("scope must be a space-separated list of scopes.")
    granted = tuple(scope for scope in asked if scope in known)
    if not granted:
        raise _metadata_error("None of the requested scopes is offered here.")
    return granted


def _name(metadata: dict[str, Any]) -> str:
    name = metadata.get("client_name")
    if name is not None and not isinstance(name, str):
        raise _metadata_error("client_name must be a string.")
    shown = "".join(ch for ch in name or "" if ch.isprintable())[:MAX_NAME].strip()
    return shown or DEFAULT_NAME


async def register_client(
    metadata: Any, *, clients: ClientService, site: str, known_scopes: Iterable[str]
) -> dict[str, Any]:
    """Register a public client, listed under `site` but usable on every site of the issuer (it has no
    secret to bind it); the RFC 7591 §3.2.1 response body, RegistrationError otherwise."""
    if not isinstance(metadata, dict):
        raise _metadata_error("The registration must be a JSON object.")
    uris = _redirect_uris(metadata)
    grant_types = _strings(metadata, "grant_types", list(_GRANT_TYPES))
    if "authorization_code" not in grant_types or not set(grant_types) <= set(_GRANT_TYPES):
        raise _metadata_error("Only the authorization_code grant (with refresh_token) can be registered.")
    if set(_strings(metadata, "response_types", ["code"])) != {"code"}:
        raise _metadata_error('Only the "code" response type is supported.')
    scopes = _scopes(metadata, tuple(sorted(known_scopes)))
    record, _ = await clients.add(
        site, _name(metadata), "", scopes, redirect_uris=uris, grant_types=grant_types, public=True
    )
    return {
        "client_id": record.client_id,
        "client_id_issued_at": int(record.created_at),
        "client_name": record.name,
        "redirect_uris": list(record.redirect_uris),
        "grant_types": list(record.grant_types),
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "scope": " ".join(record.scopes),
    }
