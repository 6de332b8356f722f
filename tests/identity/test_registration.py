"""Dynamic client registration: what is accepted, replaced and refused."""

from __future__ import annotations

from typing import Any

import pytest
from mcp.shared.auth import OAuthClientInformationFull

from proxy.identity.oauth.registration import RegistrationError, register_client
from proxy.identity.services import IdentityServices
from tests.identity.factories import SITE

KNOWN = ("mcp.read", "content.read", "content.write")
REDIRECT = "http://127.0.0.1:33418/callback"


async def _register(identity: IdentityServices, metadata: Any) -> dict[str, Any]:
    return await register_client(metadata, clients=identity.clients, site=SITE, known_scopes=KNOWN)


async def test_a_minimal_registration_is_a_public_code_client(identity: IdentityServices) -> None:
    document = await _register(identity, {"redirect_uris": [REDIRECT]})
    info = OAuthClientInformationFull.model_validate(document)
    assert info.token_endpoint_auth_method == "none"
    assert info.client_secret is None
    assert document["grant_types"] == ["authorization_code", "refresh_token"]
    assert document["scope"] == "content.read content.write mcp.read"
    assert document["client_name"] == "MCP client"
    record = await identity.clients.get(document["client_id"])
    assert record is not None
    assert (record.site, record.wp_user, record.secret_hash) == (SITE, "", None)
    assert record.redirect_uris == (REDIRECT,)


async def test_what_the_sidecar_replaces(identity: IdentityServices) -> None:
    document = await _register(
        identity,
        {
            "redirect_uris": [REDIRECT, "https://app.example/cb"],
            "token_endpoint_auth_method": "client_secret_basic",  # no secrets for anyone who asks
            "grant_types": ["authorization_code"],
            "scope": "mcp.read openid offline_access",  # unknown scopes dropped
            "client_name": "Claude\x00\n  Desktop" + "x" * 200,
            "application_type": "native",
        },
    )
    assert document["token_endpoint_auth_method"] == "none"
    assert document["grant_types"] == ["authorization_code"]
    assert document["scope"] == "mcp.read"
    assert document["client_name"].startswith("Claude  Desktop")
    assert len(document["client_name"]) == 100


@pytest.mark.parametrize(
    ("metadata", "error"),
    [
        ([], "invalid_client_metadata"),
        ({}, "invalid_redirect_uri"),
        ({"redirect_uris": []}, "invalid_redirect_uri"),
        ({"redirect_uris": REDIRECT}, "invalid_redirect_uri"),
        ({"redirect_uris": [REDIRECT] * 11}, "invalid_redirect_uri"),
        ({"redirect_uris": ["http://app.example/cb"]}, "invalid_redirect_uri"),
        ({"redirect_uris": ["https://app.example/cb#x"]}, "invalid_redirect_uri"),
        ({"redirect_uris": [1]}, "invalid_redirect_uri"),
        ({"redirect_uris": [REDIRECT], "grant_types": ["client_credentials"]}, "invalid_client_metadata"),
        ({"redirect_uris": [REDIRECT], "grant_types": ["refresh_token"]}, "invalid_client_metadata"),
        ({"redirect_uris": [REDIRECT], "grant_types": "authorization_code"}, "invalid_client_metadata"),
        ({"redirect_uris": [REDIRECT], "response_types": ["token"]}, "invalid_client_metadata"),
        ({"redirect_uris": [REDIRECT], "scope": "openid profile"}, "invalid_client_metadata"),
        ({"redirect_uris": [REDIRECT], "scope": 'a"b'}, "invalid_client_metadata"),
        ({"redirect_uris": [REDIRECT], "scope": ["mcp.read"]}, "invalid_client_metadata"),
        ({"redirect_uris": [REDIRECT], "client_name": 5}, "invalid_client_metadata"),
    ],
)
async def test_refusals(identity: IdentityServices, metadata: Any, error: str) -> None:
    with pytest.raises(RegistrationError) as refused:
        await _register(identity, metadata)
    assert refused.value.error == error
    assert refused.value.body() == {"error": error, "error_description": refused.value.description}
