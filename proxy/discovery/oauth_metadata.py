"""OAuth discovery documents: Protected Resource Metadata (RFC 9728) and AS metadata (RFC 8414).

An MCP client that gets a 401 reads the PRM named in `WWW-Authenticate` (or tries the path-suffixed
well-known URL, then the root one), picks the first authorization server, and reads its metadata
from `/.well-known/oauth-authorization-server[/<issuer path>]`. It refuses metadata without
`code_challenge_methods_supported: ["S256"]`. The documents are built as plain dicts (URLs kept
exactly as configured: issuers are compared as strings) and checked against the `mcp` SDK's own
models, so a bad URL stops the start instead of breaking clients later.

The SDK is imported only where a document is checked: importing any `mcp` module loads the whole SDK
(about a second of CPU), which every CLI command would otherwise pay just to compile the config.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from pydantic import AnyHttpUrl, TypeAdapter

__all__ = [
    "AS_METADATA_WELL_KNOWN",
    "DEFAULT_TOKEN_ENDPOINT_AUTH_METHODS",
    "OPENID_WELL_KNOWN",
    "PRM_WELL_KNOWN",
    "as_metadata_paths",
    "as_metadata_url",
    "authorization_server_metadata",
    "prm_paths",
    "prm_url",
    "protected_resource_metadata",
    "resource_url",
]

PRM_WELL_KNOWN: Final = "/.well-known/oauth-protected-resource"
AS_METADATA_WELL_KNOWN: Final = "/.well-known/oauth-authorization-server"
OPENID_WELL_KNOWN: Final = "/.well-known/openid-configuration"

# Confidential clients (basic or post) and public clients with PKCE only ("none").
DEFAULT_TOKEN_ENDPOINT_AUTH_METHODS: Final = ("client_secret_basic", "client_secret_post", "none")

_HTTP_URL: Final = TypeAdapter(AnyHttpUrl)


def resource_url(base_url: str, mcp_path: str) -> str:
    """The canonical MCP URL (RFC 8707: lower-case scheme and host, no fragment): the PRM `resource`,
    the audience tokens must carry, and the manifest's endpoint. `base_url` may carry a path prefix.
    The SDK's `resource_url_from_server_url` does the same (tests hold them equal) but costs its import."""
    parts = urlsplit(base_url.rstrip("/") + mcp_path)
    return urlunsplit(parts._replace(scheme=parts.scheme.lower(), netloc=parts.netloc.lower(), fragment=""))


def prm_paths(resource_path: str) -> list[str]:
    """Where to serve the PRM for a resource whose URL has path `resource_path`: the path-suffixed
    form (RFC 9728 section 3.1), then the root form that clients try last. One host can only have one
    root PRM: serve it for the site's main MCP endpoint. A trailing slash is kept, as the SDK's client
    and server keep it; only a bare `/` (the slash after the host) is dropped."""
    suffix = "" if resource_path == "/" else resource_path
    return [PRM_WELL_KNOWN + suffix, PRM_WELL_KNOWN] if suffix else [PRM_WELL_KNOWN]


def prm_url(base_url: str, mcp_path: str) -> str:
    """The path-suffixed PRM URL, for `WWW-Authenticate: Bearer resource_metadata="..."`."""
    parts = urlsplit(resource_url(base_url, mcp_path))
    return f"{parts.scheme}://{parts.netloc}{prm_paths(parts.path)[0]}"


def as_metadata_paths(issuer_path: str, *, openid: bool = False) -> list[str]:
    """Where to serve the AS metadata of an issuer whose URL has path `issuer_path`.

    RFC 8414 section 3.1 inserts the well-known segment before the issuer path, without its
    terminating `/`. The root form is
    always included: clients of the 2025-03-26 revision look only there. `openid` adds the OpenID
    Connect discovery locations a client tries next; leave it off unless a client needs it, since
    the document is not a full OpenID Provider configuration.
    """
    suffix = issuer_path.rstrip("/")
    paths = [AS_METADATA_WELL_KNOWN + suffix] if suffix else []
    if openid and suffix:
        paths += [OPENID_WELL_KNOWN + suffix, suffix + OPENID_WELL_KNOWN]
    paths.append(AS_METADATA_WELL_KNOWN)
    if openid:
        paths.append(OPENID_WELL_KNOWN)
    return paths


def as_metadata_url(issuer: str) -> str:
    """The RFC 8414 metadata URL of `issuer`."""
    parts = urlsplit(issuer)
    return f"{parts.scheme}://{parts.netloc}{as_metadata_paths(parts.path)[0]}"


def protected_resource_metadata(
    *,
    resource: str,
    authorization_servers: Sequence[str],
    scopes_supported: Sequence[str],
    resource_documentation: str | None = None,
    resource_name: str | None = None,
) -> dict[str, Any]:
    """The RFC 9728 document. Bearer tokens travel in the Authorization header only (MCP forbids the
    query string). Raises ValueError (pydantic's) for a URL the SDK would not accept."""
    from mcp.shared.auth import ProtectedResourceMetadata

    document: dict[str, Any] = {
        "resource": resource,
        "authorization_servers": list(authorization_servers),
        "scopes_supported": sorted(set(scopes_supported)),
        "bearer_methods_supported": ["header"],
    }
    _put(document, resource_documentation=resource_documentation, resource_name=resource_name)
    ProtectedResourceMetadata.model_validate(document)
    return document


def authorization_server_metadata(
    *,
    issuer: str,
    authorization_endpoint: str,
    token_endpoint: str,
    scopes_supported: Sequence[str],
    grant_types_supported: Sequence[str],
    jwks_uri: str | None = None,
    registration_endpoint: str | None = None,
    revocation_endpoint: str | None = None,
    service_documentation: str | None = None,
    token_endpoint_auth_methods_supported: Sequence[str] = DEFAULT_TOKEN_ENDPOINT_AUTH_METHODS,
    client_id_metadata_document_supported: bool = False,
    authorization_response_iss_parameter_supported: bool = False,
) -> dict[str, Any]:
    """The RFC 8414 document: authorization code with PKCE S256 only, `resource` indicators honoured.

    `authorization_endpoint` is required although RFC 8414 allows leaving it out without a code
    grant: the SDK's model (what MCP clients parse with) requires it. Advertise
    `client_id_metadata_document_supported` and `authorization_response_iss_parameter_supported`
    only when the endpoints really do it: clients change their behaviour on them.
    """
    from mcp.shared.auth import OAuthMetadata

    parts = urlsplit(issuer)
    if parts.query or parts.fragment:
        raise ValueError(f"the issuer {issuer!r} must not have a query or fragment (RFC 8414 section 2)")
    auth_methods = list(token_endpoint_auth_methods_supported)
    document: dict[str, Any] = {
        "issuer": issuer,
        "authorization_endpoint": authorization_endpoint,
        "token_endpoint": token_endpoint,
        "scopes_supported": sorted(set(scopes_supported)),
        "grant_types_supported": sorted(set(grant_types_supported)),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "client_id_metadata_document_supported": client_id_metadata_document_supported,
        "authorization_response_iss_parameter_supported": authorization_response_iss_parameter_supported,
    }
    _put(
        document,
        jwks_uri=jwks_uri,
        registration_endpoint=registration_endpoint,
        revocation_endpoint=revocation_endpoint,
        service_documentation=service_documentation,
    )
    if revocation_endpoint is not None:
        document["revocation_endpoint_auth_methods_supported"] = auth_methods
    OAuthMetadata.model_validate(document)
    if jwks_uri is not None:
        _HTTP_URL.validate_python(jwks_uri)  # a field the SDK's model does not carry
    return document


def _put(document: dict[str, Any], **optional: str | None) -> None:
    document.update((key, value) for key, value in optional.items() if value is not None)
