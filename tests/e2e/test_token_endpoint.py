"""The token endpoint over real sockets: RFC 6749 answers and errors, both client authentication methods,
form and JSON bodies, the path alias inside the guarded MCP namespace, hostile bodies, and lifetimes."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote_plus

import jwt
import pytest
import pytest_asyncio

from proxy.config import Config
from proxy.demo import DEMO_MCP_PATH, RunningDemo
from proxy.runtime import SiteRuntime
from tests.admin.processes import DEMO_USERS
from tests.demo_upstream import demo_fixture
from tests.e2e.authz_support import INITIALIZE_REQUEST
from tests.factories import make_config_data
from tests.proxy_harness import RunningSidecar, running_sidecar

pytestmark = pytest.mark.asyncio(loop_scope="module")

TOKEN = "/oauth/token"
ALIAS = "/wp-json/mcp/oauth/token"
OTHER_HOST = "other.test"
SCOPES = ["mcp.read", "content.read"]
CC = {"grant_type": "client_credentials"}
FORM = "application/x-www-form-urlencoded"


demo = demo_fixture()


def config(demo_url: str, *, identity: dict[str, Any] | None = None) -> Config:
    """Site `demo` answers the token alias; site `other` (other.test) does not."""
    data = make_config_data(demo_url, users=DEMO_USERS, token_path_aliases=[ALIAS])
    data["sites"]["other"] = {"hosts": [OTHER_HOST], "upstream": {"url": demo_url}, "users": DEMO_USERS}
    data["identity"] = identity or {}
    return Config.model_validate(data)


@pytest_asyncio.fixture(loop_scope="module")
async def sc(demo: RunningDemo) -> AsyncIterator[RunningSidecar]:
    async with running_sidecar(config(demo.url)) as running:
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def client(sc: RunningSidecar) -> tuple[str, str]:
    record, secret = await sc.sidecar.services.identity.clients.add("demo", "bot", "editor", SCOPES)
    assert secret is not None
    return record.client_id, secret


def demo_site(sc: RunningSidecar) -> SiteRuntime:
    return sc.sidecar.services.holder.current.sites[0]


def basic(client_id: str, secret: str) -> dict[str, str]:
    pair = f"{quote_plus(client_id)}:{quote_plus(secret)}"
    return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}


async def post(
    sc: RunningSidecar,
    body: bytes | dict[str, str],
    *,
    content_type: str | None = FORM,
    headers: dict[str, str] | None = None,
    path: str = TOKEN,
) -> tuple[int, dict[str, str], Any]:
    """POST to the token endpoint; a dict body is form-encoded (or JSON when `content_type` says so)."""
    if isinstance(body, dict):
        if content_type == "application/json":
            body = json.dumps(body).encode()
        else:
            body = "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in body.items()).encode()
    all_headers = dict(headers or {})
    if content_type is not None:
        all_headers["Content-Type"] = content_type
    async with sc.http.post(sc.url + path, data=body, headers=all_headers) as response:
        raw = await response.read()
        return response.status, dict(response.headers), json.loads(raw) if raw else None


async def jwks_key(sc: RunningSidecar, token: str) -> Any:
    """The public key the sidecar publishes for this token's kid."""
    async with sc.http.get(sc.url + "/.well-known/jwks.json") as response:
        assert response.status == 200
        document = json.loads(await response.read())
    return jwt.PyJWKSet.from_dict(document)[jwt.get_unverified_header(token)["kid"]].key


def assert_no_store(headers: dict[str, str]) -> None:
    assert headers["Cache-Control"] == "no-store"
    assert headers["Content-Type"].startswith("application/json")


async def mcp_status(sc: RunningSidecar, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"}
    async with sc.http.post(sc.url + DEMO_MCP_PATH, json=INITIALIZE_REQUEST, headers=headers) as response:
        return response.status


# -- issuing ---------------------------------------------------------------------------------------


async def test_form_body_with_client_secret_post(sc: RunningSidecar, client: tuple[str, str]) -> None:
    client_id, secret = client
    status, headers, body = await post(sc, {**CC, "client_id": client_id, "client_secret": secret})
    assert status == 200
    assert_no_store(headers)
    assert headers["Pragma"] == "no-cache"
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert (body["token_type"], body["expires_in"], body["scope"]) == (
        "Bearer",
        3600,
        "mcp.read content.read",
    )
    token = body["access_token"]
    header = jwt.get_unverified_header(token)
    assert (header["alg"], header["typ"]) == ("ES256", "at+jwt")
    site = demo_site(sc)
    issuer = sc.sidecar.services.holder.current.issuer
    claims = jwt.decode(
        token, await jwks_key(sc, token), algorithms=["ES256"], audience=site.resource, issuer=issuer
    )
    assert claims["sub"] == claims["client_id"] == client_id
    assert claims["aud"] == site.resource
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["scope"] == "mcp.read content.read"
    assert len(claims["jti"]) >= 16
    assert await mcp_status(sc, token) == 200


async def test_json_body_with_client_secret_basic_and_a_narrower_scope(
    sc: RunningSidecar, client: tuple[str, str]
) -> None:
    client_id, secret = client
    status, headers, body = await post(
        sc, {**CC, "scope": "mcp.read"}, content_type="application/json", headers=basic(client_id, secret)
    )
    assert status == 200, body
    assert_no_store(headers)
    assert body["scope"] == "mcp.read"
    assert jwt.decode(body["access_token"], options={"verify_signature": False})["scope"] == "mcp.read"
    assert await mcp_status(sc, body["access_token"]) == 200


async def test_the_alias_inside_the_guarded_namespace_is_the_token_endpoint(
    sc: RunningSidecar, client: tuple[str, str], demo: RunningDemo
) -> None:
    client_id, secret = client
    demo.site.reset_counters()
    status, headers, body = await post(sc, CC, headers=basic(client_id, secret), path=ALIAS)
    assert status == 200, body
    assert_no_store(headers)
    assert await mcp_status(sc, body["access_token"]) == 200
    status, headers, body = await post(sc, CC, headers=basic(client_id, secret), path=ALIAS + "x")
    assert (status, body) == (404, None)  # not an alias: the allowlist hides the rest of /mcp
    async with sc.http.get(sc.url + ALIAS) as response:
        assert response.status == 405
        assert response.headers["Allow"] == "POST"
    # The alias belongs to site demo only: on other.test the same path is an unlisted /mcp route.
    status, _, body = await post(sc, CC, headers={**basic(client_id, secret), "Host": OTHER_HOST}, path=ALIAS)
    assert (status, body) == (404, None)
    assert not any(request.path.endswith("/oauth/token") for request in demo.site.requests)


async def test_ttl_zero_tokens_never_expire(demo: RunningDemo) -> None:
    async with running_sidecar(config(demo.url, identity={"access_token_ttl_hours": 0})) as sc:
        record, secret = await sc.sidecar.services.identity.clients.add("demo", "bot", "editor", SCOPES)
        assert secret is not None
        status, headers, body = await post(sc, {**CC, "client_id": record.client_id, "client_secret": secret})
        assert status == 200
        assert_no_store(headers)
        assert "expires_in" not in body
        claims = jwt.decode(body["access_token"], options={"verify_signature": False})
        assert "exp" not in claims
        assert await mcp_status(sc, body["access_token"]) == 200


# -- RFC 6749 §5.2 errors ------------------------------------------------------------------------------

BASIC_CHALLENGE = 'Basic realm="demo", charset="UTF-8"'
CLIENT_FAILED = "Client authentication failed."


@pytest.mark.parametrize(
    ("case", "status", "error", "description", "challenge"),
    [
        ("no_grant_type", 400, "invalid_request", "The grant_type parameter is required.", None),
        ("repeated_parameter", 400, "invalid_request", "A parameter was sent more than once.", None),
        (
            "two_authentications",
            400,
            "invalid_request",
            "Authenticate the client with one method only, not header and body.",
            None,
        ),
        ("no_authentication", 401, "invalid_client", "Client authentication is required.", BASIC_CHALLENGE),
        ("wrong_secret_basic", 401, "invalid_client", CLIENT_FAILED, BASIC_CHALLENGE),
        ("wrong_secret_post", 401, "invalid_client", CLIENT_FAILED, None),
        ("unknown_client_basic", 401, "invalid_client", CLIENT_FAILED, BASIC_CHALLENGE),
        (
            "client_of_another_site",
            400,
            "invalid_target",
            "This client may not get tokens for this resource.",
            None,
        ),
        ("password_grant", 400, "unsupported_grant_type", "This grant type is not supported.", None),
        (
            "scope_not_allowed",
            400,
            "invalid_scope",
            "The requested scope exceeds what may be granted to this client.",
            None,
        ),
        ("scope_malformed", 400, "invalid_scope", "The scope parameter is malformed.", None),
        ("code_only_client", 400, "unauthorized_client", "This client may not use this grant type.", None),
        (
            "foreign_resource",
            400,
            "invalid_target",
            "The resource parameter does not name this server.",
            None,
        ),
    ],
)
async def test_token_errors(
    sc: RunningSidecar,
    client: tuple[str, str],
    case: str,
    status: int,
    error: str,
    description: str,
    challenge: str | None,
) -> None:
    client_id, secret = client
    clients = sc.sidecar.services.identity.clients
    good = basic(client_id, secret)
    body: bytes | dict[str, str] = CC
    headers: dict[str, str] = good
    if case == "no_grant_type":
        body = {}
    elif case == "repeated_parameter":
        body = b"grant_type=client_credentials&grant_type=client_credentials"
    elif case == "two_authentications":
        body = {**CC, "client_secret": secret}
    elif case == "no_authentication":
        headers = {}
    elif case == "wrong_secret_basic":
        headers = basic(client_id, secret + "x")
    elif case == "wrong_secret_post":
        body, headers = {**CC, "client_id": client_id, "client_secret": secret + "x"}, {}
    elif case == "unknown_client_basic":
        headers = basic("mcpc_nobody", secret)
    elif case == "client_of_another_site":
        other, other_secret = await clients.add("other", "bot", "editor", SCOPES)
        assert other_secret is not None
        headers = basic(other.client_id, other_secret)
    elif case == "password_grant":
        body = {"grant_type": "password", "username": "admin", "password": "x"}
    elif case == "scope_not_allowed":
        body = {**CC, "scope": "mcp.read settings.write"}
    elif case == "scope_malformed":
        body = {**CC, "scope": 'mcp.read "x'}
    elif case == "code_only_client":
        code_client, code_secret = await clients.add(
            "demo",
            "web app",
            "editor",
            SCOPES,
            redirect_uris=["https://app.example/callback"],
            grant_types=["authorization_code", "refresh_token"],
        )
        assert code_secret is not None
        headers = basic(code_client.client_id, code_secret)
    elif case == "foreign_resource":
        body = {**CC, "resource": "https://evil.example/mcp"}
    got_status, got_headers, got_body = await post(sc, body, headers=headers)
    assert got_status == status
    assert_no_store(got_headers)
    assert got_body == {"error": error, "error_description": description}
    assert got_headers.get("WWW-Authenticate") == challenge


# -- hostile bodies --------------------------------------------------------------------------------

NOT_PARAMETERS = "the request body is not a JSON object of string parameters"


@pytest.mark.parametrize(
    ("content_type", "body", "status", "description"),
    [
        ("application/json", b"[]", 400, NOT_PARAMETERS),
        ("application/json", b'[{"grant_type": "client_credentials"}]', 400, NOT_PARAMETERS),
        ("application/json", b"42", 400, NOT_PARAMETERS),
        ("application/json", b"1e999999", 400, NOT_PARAMETERS),
        ("application/json", b'"client_credentials"', 400, NOT_PARAMETERS),
        ("application/json", b"null", 400, NOT_PARAMETERS),
        ("application/json", b"", 400, NOT_PARAMETERS),
        ("application/json", b'{"grant_type": "client_cred', 400, NOT_PARAMETERS),
        ("application/json", b"[" * 10000, 400, NOT_PARAMETERS),
        ("application/json", b"[" * 8000 + b"]" * 8000, 400, NOT_PARAMETERS),
        ("application/json", b'{"a":' * 2500 + b"1" + b"}" * 2500, 400, NOT_PARAMETERS),
        (
            "application/json",
            b"[" * 10000 + b"]" * 10000,
            413,
            None,
        ),  # past the 16 KiB a token request may use
        ("application/json", b'{"grant_type": {"nested": "x"}}', 400, NOT_PARAMETERS),
        ("application/json", b'{"grant_type": 1}', 400, NOT_PARAMETERS),
        ("application/json", b'{"grant_type": NaN}', 400, NOT_PARAMETERS),
        ("application/json", b'{"grant_type": "\xff\xfe"}', 400, NOT_PARAMETERS),
        (
            "application/json",
            b'{"grant_type": "password", "grant_type": "client_credentials"}',
            400,
            "A parameter was sent more than once.",
        ),
        (FORM, b"grant_type=client_credentials&scope=a&scope=b", 400, "A parameter was sent more than once."),
        (FORM, b"grant_type=\xff\xfe", 400, "the request body is not UTF-8"),
        (FORM, b"", 400, "The grant_type parameter is required."),
        (FORM, b"%%%&&&===", 400, "The grant_type parameter is required."),
        (
            "text/plain",
            b"grant_type=client_credentials",
            415,
            "send application/x-www-form-urlencoded (or application/json) parameters",
        ),
        (
            None,
            b"grant_type=client_credentials",
            415,
            "send application/x-www-form-urlencoded (or application/json) parameters",
        ),
        (FORM, b"grant_type=client_credentials&x=" + b"a" * 17000, 413, None),
    ],
    ids=lambda value: value[:40].decode("latin-1") if isinstance(value, bytes) else value,
)
async def test_hostile_bodies_get_a_clean_json_refusal(
    sc: RunningSidecar,
    client: tuple[str, str],
    content_type: str | None,
    body: bytes,
    status: int,
    description: str | None,
) -> None:
    got_status, headers, got_body = await post(sc, body, content_type=content_type, headers=basic(*client))
    assert got_status == status
    assert_no_store(headers)
    if description is None:
        assert got_body["error"] == "body_too_large"
    else:
        assert got_body == {"error": "invalid_request", "error_description": description}


async def test_two_authorization_headers_are_refused(sc: RunningSidecar, client: tuple[str, str]) -> None:
    from multidict import CIMultiDict

    headers = CIMultiDict(
        [("Authorization", basic(*client)["Authorization"]), ("Authorization", "Basic eDp5")]
    )
    async with sc.http.post(sc.url + TOKEN, data=CC, headers=headers) as response:
        assert response.status == 400
        assert response.headers["Cache-Control"] == "no-store"
        assert await response.json() == {
            "error": "invalid_request",
            "error_description": "The Authorization header was sent more than once.",
        }
