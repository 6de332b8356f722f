"""OAuth discovery documents and their URLs, checked against what the mcp SDK's own client and
server do: the same models parse them, the same discovery order finds them."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from mcp.client.auth.utils import (
    build_oauth_authorization_server_metadata_discovery_urls,
    build_protected_resource_metadata_discovery_urls,
    validate_metadata_issuer,
)
from mcp.server.auth.routes import build_resource_metadata_url
from mcp.shared.auth import OAuthMetadata, ProtectedResourceMetadata
from mcp.shared.auth_utils import check_resource_allowed, resource_url_from_server_url
from pydantic import AnyHttpUrl

from proxy.discovery.conditional import Representation
from proxy.discovery.oauth_metadata import (
    as_metadata_paths,
    as_metadata_url,
    authorization_server_metadata,
    prm_paths,
    prm_url,
    protected_resource_metadata,
    resource_url,
)

BASE = "http://localhost:8080"
MCP_PATH = "/wp-json/mcp/mcp-adapter-default-server"
SCOPES = ["content:write", "content:read", "content:read"]

SITES = [
    (BASE, MCP_PATH),
    ("http://localhost:8080/", MCP_PATH),
    ("https://example.com/blog", MCP_PATH),
    ("https://Example.COM:8443", "/wp-json/sytewide-mcp/v1/mcp"),
    ("https://example.com", "/mcp/"),
]


def _paths(urls: list[str]) -> list[str]:
    return [urlsplit(url).path for url in urls]


@pytest.mark.parametrize(("base", "mcp_path"), SITES)
def test_prm_is_where_the_sdk_client_looks_first(base: str, mcp_path: str) -> None:
    server_url = resource_url(base, mcp_path)
    client_order = build_protected_resource_metadata_discovery_urls(None, server_url)
    assert prm_url(base, mcp_path) == client_order[0]
    assert prm_paths(urlsplit(server_url).path) == _paths(client_order)
    assert prm_url(base, mcp_path) == str(build_resource_metadata_url(AnyHttpUrl(server_url)))


@pytest.mark.parametrize(
    ("resource_path", "paths"),
    [
        (
            MCP_PATH,
            [f"/.well-known/oauth-protected-resource{MCP_PATH}", "/.well-known/oauth-protected-resource"],
        ),
        ("/mcp/", ["/.well-known/oauth-protected-resource/mcp/", "/.well-known/oauth-protected-resource"]),
        ("/", ["/.well-known/oauth-protected-resource"]),
        ("", ["/.well-known/oauth-protected-resource"]),
    ],
)
def test_prm_paths(resource_path: str, paths: list[str]) -> None:
    assert prm_paths(resource_path) == paths


def test_resource_url_is_rfc_8707_canonical() -> None:
    assert (
        resource_url("HTTPS://Example.COM/blog/", "/wp-json/mcp/x")
        == "https://example.com/blog/wp-json/mcp/x"
    )


@pytest.mark.parametrize(
    ("base", "mcp_path"),
    [*SITES, ("HTTPS://Example.COM/Blog/", "/wp-json/mcp/X"), ("http://[::1]:8080", "/mcp#section")],
)
def test_resource_url_is_what_the_sdk_computes(base: str, mcp_path: str) -> None:
    """Written here so that compiling a config never imports the SDK; held equal to the SDK's own."""
    assert resource_url(base, mcp_path) == resource_url_from_server_url(base.rstrip("/") + mcp_path)


@pytest.mark.parametrize(
    ("issuer_path", "openid", "paths"),
    [
        ("", False, ["/.well-known/oauth-authorization-server"]),
        ("/", False, ["/.well-known/oauth-authorization-server"]),
        ("", True, ["/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"]),
        (
            "/oauth",
            False,
            ["/.well-known/oauth-authorization-server/oauth", "/.well-known/oauth-authorization-server"],
        ),
        (
            "/oauth/",
            True,
            [
                "/.well-known/oauth-authorization-server/oauth",
                "/.well-known/openid-configuration/oauth",
                "/oauth/.well-known/openid-configuration",
                "/.well-known/oauth-authorization-server",
                "/.well-known/openid-configuration",
            ],
        ),
    ],
)
def test_as_metadata_paths(issuer_path: str, openid: bool, paths: list[str]) -> None:
    assert as_metadata_paths(issuer_path, openid=openid) == paths


@pytest.mark.parametrize(
    "issuer", [BASE, f"{BASE}/", "https://example.com/oauth", "https://example.com/blog/oauth"]
)
def test_as_metadata_is_where_the_sdk_client_looks(issuer: str) -> None:
    server_url = resource_url(BASE, MCP_PATH)
    client_order = build_oauth_authorization_server_metadata_discovery_urls(issuer, server_url)
    assert as_metadata_url(issuer) == client_order[0]
    issuer_path = urlsplit(issuer).path
    assert set(_paths(client_order)) <= set(as_metadata_paths(issuer_path, openid=True))
    # A 2025-03-26 client without PRM looks only at the root of the MCP server's host.
    (legacy,) = build_oauth_authorization_server_metadata_discovery_urls(None, server_url)
    assert urlsplit(legacy).path in as_metadata_paths(issuer_path)


def make_prm(**changes: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "resource": resource_url(BASE, MCP_PATH),
        "authorization_servers": [BASE],
        "scopes_supported": SCOPES,
        "resource_documentation": "https://example.com/agents",
    }
    arguments.update(changes)
    return protected_resource_metadata(**arguments)


def test_prm_document() -> None:
    assert make_prm(resource_name="Example Blog") == {
        "resource": "http://localhost:8080/wp-json/mcp/mcp-adapter-default-server",
        "authorization_servers": ["http://localhost:8080"],
        "scopes_supported": ["content:read", "content:write"],
        "bearer_methods_supported": ["header"],
        "resource_documentation": "https://example.com/agents",
        "resource_name": "Example Blog",
    }
    assert "resource_name" not in make_prm()


def test_prm_parses_with_the_sdk_model_and_matches_the_server_url() -> None:
    document = make_prm()
    parsed = ProtectedResourceMetadata.model_validate_json(
        Representation.of_json(document, last_modified=0).body
    )
    assert str(parsed.resource) == document["resource"]
    assert [str(url) for url in parsed.authorization_servers] == ["http://localhost:8080"]
    assert parsed.bearer_methods_supported == ["header"]
    expected = resource_url_from_server_url(f"{BASE}{MCP_PATH}")
    assert check_resource_allowed(requested_resource=expected, configured_resource=str(parsed.resource))


@pytest.mark.parametrize(
    "changes",
    [
        {"authorization_servers": []},
        {"authorization_servers": ["not a url"]},
        {"resource": "/relative"},
        {"resource_documentation": "ftp://example.com"},
    ],
)
def test_prm_refuses_what_clients_would_reject(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="validation error"):
        make_prm(**changes)


def make_as(**changes: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "issuer": BASE,
        "authorization_endpoint": f"{BASE}/oauth/authorize",
        "token_endpoint": f"{BASE}/oauth/token",
        "scopes_supported": SCOPES,
        "grant_types_supported": ["refresh_token", "authorization_code", "client_credentials"],
    }
    arguments.update(changes)
    return authorization_server_metadata(**arguments)


def test_as_document() -> None:
    assert make_as() == {
        "issuer": "http://localhost:8080",
        "authorization_endpoint": "http://localhost:8080/oauth/authorize",
        "token_endpoint": "http://localhost:8080/oauth/token",
        "scopes_supported": ["content:read", "content:write"],
        "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "client_id_metadata_document_supported": False,
        "authorization_response_iss_parameter_supported": False,
    }


def test_as_document_with_every_option() -> None:
    document = make_as(
        jwks_uri=f"{BASE}/oauth/jwks.json",
        registration_endpoint=f"{BASE}/oauth/register",
        revocation_endpoint=f"{BASE}/oauth/revoke",
        service_documentation="https://example.com/agents",
        token_endpoint_auth_methods_supported=["client_secret_basic"],
        client_id_metadata_document_supported=True,
        authorization_response_iss_parameter_supported=True,
    )
    parsed = OAuthMetadata.model_validate(document)
    assert str(parsed.registration_endpoint) == f"{BASE}/oauth/register"
    assert parsed.revocation_endpoint_auth_methods_supported == ["client_secret_basic"]
    assert parsed.client_id_metadata_document_supported is True
    assert parsed.authorization_response_iss_parameter_supported is True
    assert document["jwks_uri"] == f"{BASE}/oauth/jwks.json"


@pytest.mark.parametrize("issuer", [BASE, f"{BASE}/", "https://example.com/oauth"])
def test_as_parses_with_the_sdk_model_and_keeps_the_issuer_exact(issuer: str) -> None:
    document = make_as(issuer=issuer)
    parsed = OAuthMetadata.model_validate_json(Representation.of_json(document, last_modified=0).body)
    validate_metadata_issuer(parsed, issuer)  # the SDK client compares issuers as plain strings
    assert parsed.code_challenge_methods_supported == ["S256"]
    assert parsed.response_types_supported == ["code"]


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"issuer": "http://localhost:8080/?tenant=1"}, "query or fragment"),
        ({"issuer": "http://localhost:8080#x"}, "query or fragment"),
        ({"token_endpoint": "/oauth/token"}, "validation error"),
        ({"authorization_endpoint": "not a url"}, "validation error"),
        ({"jwks_uri": "mailto:keys@example.com"}, "validation error"),
    ],
)
def test_as_refuses_bad_urls(changes: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_as(**changes)
