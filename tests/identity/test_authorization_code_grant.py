from __future__ import annotations

import pytest

from proxy.identity.credentials import CredentialError
from proxy.identity.oauth.errors import (
    InvalidRequestError,
    InvalidScopeError,
    OAuthError,
    UnauthorizedClientError,
)
from proxy.identity.oauth.grants.authorization_code import s256_challenge
from proxy.identity.services import IdentityServices
from proxy.stores import ClientRecord
from tests.identity.factories import (
    AUDIENCE,
    REDIRECT_URI,
    SITE,
    VERIFIER,
    FakeClock,
    assert_token_error,
    assert_token_success,
    authorize,
    basic,
    code_params,
    token_request,
)


@pytest.fixture
async def app(identity: IdentityServices) -> ClientRecord:
    """A public client (PKCE only) that may refresh."""
    record, _ = await identity.clients.add(
        SITE,
        "desktop app",
        "editor",
        ["posts:read", "posts:write"],
        public=True,
        redirect_uris=[REDIRECT_URI],
        grant_types=["authorization_code", "refresh_token"],
    )
    return record


def test_s256_matches_rfc_7636_appendix_b() -> None:
    assert s256_challenge(VERIFIER) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


async def test_code_exchange_gives_access_and_refresh_tokens(
    identity: IdentityServices, app: ClientRecord
) -> None:
    code = await authorize(identity, app, scopes=("posts:read",))
    body = assert_token_success(await token_request(identity, code_params(app, code)))
    assert set(body) == {"access_token", "token_type", "expires_in", "scope", "refresh_token"}
    assert body["scope"] == "posts:read"
    claims = await identity.tokens.verify(body["access_token"], audience=AUDIENCE, site=SITE)
    assert (claims["sub"], claims["wp_user"], claims["client_id"], claims["gty"]) == (
        "alice",
        "alice",
        app.client_id,
        "authorization_code",
    )
    assert "fid" in claims


async def test_confidential_client_without_refresh_gets_no_refresh_token(identity: IdentityServices) -> None:
    record, secret = await identity.clients.add(
        SITE,
        "web app",
        "editor",
        ["posts:read"],
        redirect_uris=[REDIRECT_URI],
        grant_types=["authorization_code"],
    )
    assert secret is not None
    code = await authorize(identity, record)
    params = code_params(record, code, client_id="OMIT")
    body = assert_token_success(await token_request(identity, params, basic(record.client_id, secret)))
    assert "refresh_token" not in body


async def test_confidential_client_must_authenticate(identity: IdentityServices) -> None:
    record, _ = await identity.clients.add(
        SITE,
        "web app",
        "editor",
        ["posts:read"],
        redirect_uris=[REDIRECT_URI],
        grant_types=["authorization_code"],
    )
    code = await authorize(identity, record)
    assert_token_error(await token_request(identity, code_params(record, code)), "invalid_client", 401)


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"code_verifier": "x" * 43}, "invalid_grant"),
        ({"code_verifier": VERIFIER[:-1] + "A"}, "invalid_grant"),
        ({"code_verifier": "OMIT"}, "invalid_request"),
        ({"code_verifier": "short"}, "invalid_request"),
        ({"code_verifier": "a" * 129}, "invalid_request"),
        ({"code_verifier": VERIFIER[:-1] + "!"}, "invalid_request"),
        ({"redirect_uri": "http://127.0.0.1:33418/other"}, "invalid_grant"),
        ({"redirect_uri": "OMIT"}, "invalid_request"),
        ({"code": "OMIT"}, "invalid_request"),
        ({"code": "not-a-code"}, "invalid_grant"),
        ({"resource": "https://other.example/mcp"}, "invalid_target"),
    ],
)
async def test_exchange_failures(
    identity: IdentityServices, app: ClientRecord, overrides: dict[str, str], error: str
) -> None:
    code = await authorize(identity, app)
    assert_token_error(await token_request(identity, code_params(app, code, **overrides)), error)


async def test_a_failed_pkce_check_burns_the_code(identity: IdentityServices, app: ClientRecord) -> None:
    code = await authorize(identity, app)
    assert_token_error(
        await token_request(identity, code_params(app, code, code_verifier="y" * 43)), "invalid_grant"
    )
    assert_token_error(await token_request(identity, code_params(app, code)), "invalid_grant")


async def test_code_is_bound_to_its_client(identity: IdentityServices, app: ClientRecord) -> None:
    other, _ = await identity.clients.add(
        SITE,
        "other app",
        "editor",
        ["posts:read"],
        public=True,
        redirect_uris=[REDIRECT_URI],
        grant_types=["authorization_code"],
    )
    code = await authorize(identity, app)
    assert_token_error(await token_request(identity, code_params(other, code)), "invalid_grant")


async def test_code_is_bound_to_its_resource(identity: IdentityServices, app: ClientRecord) -> None:
    code = await authorize(identity, app, resource="https://other.example/mcp")
    response = await token_request(identity, code_params(app, code, resource="OMIT"))
    assert_token_error(response, "invalid_grant")
    assert response.body["error_description"] == "The code was issued for another resource."


async def test_code_expires(identity: IdentityServices, app: ClientRecord, clock: FakeClock) -> None:
    code = await authorize(identity, app)
    clock.advance(60)
    assert_token_error(await token_request(identity, code_params(app, code)), "invalid_grant")


async def test_code_reuse_is_refused_and_revokes_what_the_first_use_gave(
    identity: IdentityServices, app: ClientRecord
) -> None:
    code = await authorize(identity, app)
    body = assert_token_success(await token_request(identity, code_params(app, code)))
    assert_token_error(await token_request(identity, code_params(app, code)), "invalid_grant")
    with pytest.raises(CredentialError, match="revoked_all"):
        await identity.tokens.verify(body["access_token"], audience=AUDIENCE, site=SITE)
    refresh = {
        "grant_type": "refresh_token",
        "client_id": app.client_id,
        "refresh_token": body["refresh_token"],
    }
    assert_token_error(await token_request(identity, refresh), "invalid_grant")


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"code_challenge_method": "plain"}, InvalidRequestError),
        ({"code_challenge_method": ""}, InvalidRequestError),
        ({"code_challenge": ""}, InvalidRequestError),
        ({"code_challenge": "too-short"}, InvalidRequestError),
        ({"code_challenge": "=" * 43}, InvalidRequestError),
        ({"redirect_uri": "https://evil.example/cb"}, InvalidRequestError),
        ({"scopes": ("admin",)}, InvalidScopeError),
        ({"scopes": ("bad scope",)}, InvalidScopeError),
    ],
)
async def test_issue_code_refusals(
    identity: IdentityServices, app: ClientRecord, options: dict[str, object], error: type[OAuthError]
) -> None:
    arguments: dict[str, object] = {
        "client": app,
        "wp_user": "alice",
        "redirect_uri": REDIRECT_URI,
        "scopes": ("posts:read",),
        "resource": AUDIENCE,
        "code_challenge": s256_challenge(VERIFIER),
        "code_challenge_method": "S256",
    }
    arguments.update(options)
    with pytest.raises(error):
        await identity.authorization_code.issue_code(**arguments)  # type: ignore[arg-type]


async def test_issue_code_needs_the_grant_type(identity: IdentityServices) -> None:
    record, _ = await identity.clients.add(SITE, "bot", "editor", ["posts:read"])
    with pytest.raises(UnauthorizedClientError):
        await authorize(identity, record)
