"""Plain helpers for the identity tests: constants, a settable clock, header builders."""

from __future__ import annotations

import base64
import time
from typing import Any
from urllib.parse import quote_plus

from proxy.identity.oauth.endpoint import TokenResponse
from proxy.identity.oauth.grants.authorization_code import s256_challenge
from proxy.identity.oauth.resources import ResourceTargets
from proxy.identity.services import IdentityServices
from proxy.stores import ClientRecord

PEPPER = b"0123456789abcdef0123456789abcdef"
ISSUER = "https://blog.example/oauth"
AUDIENCE = "https://blog.example/wp-json/mcp/mcp-adapter-default-server"
SITE = "demo"
OTHER_SITE = "other"  # a second site of the same issuer
OTHER_AUDIENCE = "https://other.example/wp-json/mcp/mcp-adapter-default-server"


def targets(default: str = AUDIENCE) -> ResourceTargets:
    """Both sites, as the issuer's endpoints see them from the Host of the site of `default`."""
    return ResourceTargets({AUDIENCE: SITE, OTHER_AUDIENCE: OTHER_SITE}, default=default)


class FakeClock:
    """Wall time that only moves when told to."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def basic(client_id: str, secret: str) -> str:
    """An RFC 6749 §2.3.1 Basic header: both halves form-urlencoded, then base64."""
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


async def token_request(
    identity: IdentityServices,
    params: dict[str, Any],
    authorization: str | None = None,
    *,
    reached: str = AUDIENCE,
) -> TokenResponse:
    """A token request that reached the Host of the site whose resource is `reached`."""
    return await identity.token_endpoint.handle(params, authorization, targets=targets(reached))


def assert_token_error(response: TokenResponse, error: str, status: int = 400) -> None:
    """An RFC 6749 §5.2 error: its code and status, a description in the allowed characters, no caching."""
    assert (response.status, response.body["error"]) == (status, error), response
    assert set(response.body) == {"error", "error_description"}
    assert all(
        ch == " " or ch == "!" or "#" <= ch <= "[" or "]" <= ch <= "~"
        for ch in response.body["error_description"]
    )
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Pragma"] == "no-cache"


def assert_token_success(response: TokenResponse) -> dict[str, Any]:
    assert response.status == 200, response
    assert response.headers == {"Cache-Control": "no-store", "Pragma": "no-cache"}
    assert response.body["token_type"] == "Bearer"
    return response.body


VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"  # RFC 7636 appendix B
REDIRECT_URI = "http://127.0.0.1:33418/callback"


async def authorize(
    identity: IdentityServices,
    client: ClientRecord,
    *,
    scopes: tuple[str, ...] = ("posts:read",),
    verifier: str = VERIFIER,
    redirect_uri: str = REDIRECT_URI,
    resource: str = AUDIENCE,
    wp_user: str = "alice",
) -> str:
    """What the authorize endpoint will do once the user consented: issue a code."""
    return await identity.authorization_code.issue_code(
        client=client,
        wp_user=wp_user,
        redirect_uri=redirect_uri,
        scopes=scopes,
        resource=resource,
        code_challenge=s256_challenge(verifier),
        code_challenge_method="S256",
    )


def code_params(client: ClientRecord, issued_code: str, **overrides: str) -> dict[str, str]:
    """Token request parameters for a code exchange; an override of "OMIT" leaves a parameter out."""
    params = {
        "grant_type": "authorization_code",
        "client_id": client.client_id,
        "code": issued_code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": VERIFIER,
        "resource": AUDIENCE,
    }
    params.update(overrides)
    return {name: value for name, value in params.items() if value != "OMIT"}
