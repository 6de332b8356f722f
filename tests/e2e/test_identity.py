"""Identity end to end: the sidecar in front of the demo WordPress, every refusal of issue 4 with its
status, body and challenge, credentials on the real MCP client, secrets searched for where they must not
be, hostile header bytes, and revocation seen by a second sidecar process sharing Redis."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric import ec
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from multidict import CIMultiDict
from yarl import URL

from proxy.config import Config
from proxy.demo import DEMO_APP_PASSWORDS, DEMO_MCP_PATH, RunningDemo
from proxy.identity.apikeys import KeyService
from proxy.identity.tokens import GRANT_CLAIM, WP_USER_CLAIM, TokenService
from proxy.observe import configure_logging
from proxy.runtime import SiteRuntime
from tests.admin.processes import DEMO_USERS, config_data, run_cli, sidecar_process, write_config
from tests.demo_upstream import demo_fixture
from tests.e2e.authz_support import INITIALIZE_REQUEST
from tests.factories import TEST_PEPPER, make_config_data
from tests.proxy_harness import RunningSidecar, running_sidecar

pytestmark = pytest.mark.asyncio(loop_scope="module")

MCP = DEMO_MCP_PATH
OTHER_HOST = "other.test"
PRM = "https://localhost/.well-known/oauth-protected-resource/wp-json/mcp/mcp-adapter-default-server"
OTHER_PRM = "https://other.test/.well-known/oauth-protected-resource/wp-json/mcp/mcp-adapter-default-server"
INVALID_TOKEN = "The access token is invalid, expired or revoked."
JSON_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
SCOPES = ["mcp.read", "content.read"]


demo = demo_fixture()


def two_sites(demo_url: str) -> dict[str, Any]:
    """Site `demo` (localhost) and site `other` (other.test), both in front of the one demo upstream."""
    data = make_config_data(demo_url, users=DEMO_USERS)
    data["sites"]["other"] = {"hosts": [OTHER_HOST], "upstream": {"url": demo_url}, "users": DEMO_USERS}
    data["identity"] = {"last_used_flush_seconds": 0.1}
    return data


@pytest_asyncio.fixture(loop_scope="module")
async def sc(demo: RunningDemo) -> AsyncIterator[RunningSidecar]:
    demo.site.reset()
    async with running_sidecar(Config.model_validate(two_sites(demo.url))) as running:
        yield running


def site(sc: RunningSidecar, name: str = "demo") -> SiteRuntime:
    runtime = sc.sidecar.services.holder.current
    return next(s for s in runtime.sites if s.name == name)


# What the sites offer (the default toolsets, read-only and content) needs these scopes.
NEEDED_SCOPES = "content.read content.write mcp.read users.read"


def challenge(error: str | None = None, description: str | None = None, *, prm: str = PRM) -> str:
    realm = "other" if prm == OTHER_PRM else "demo"
    parts = [f'realm="{realm}"']
    if error is not None:
        parts += [f'error="{error}"', f'error_description="{description}"']
    return "Bearer " + ", ".join([*parts, f'scope="{NEEDED_SCOPES}"', f'resource_metadata="{prm}"'])


async def post_mcp(
    sc: RunningSidecar, headers: Any, *, host: str | None = None, body: Any = INITIALIZE_REQUEST
) -> tuple[int, CIMultiDict[str], Any]:
    all_headers = CIMultiDict(JSON_HEADERS)
    all_headers.extend(CIMultiDict(headers))
    if host is not None:
        all_headers["Host"] = host
    async with sc.http.post(sc.url + MCP, data=json.dumps(body), headers=all_headers) as response:
        return response.status, CIMultiDict(response.headers), json.loads(await response.read() or b"null")


def assert_refused(
    status: int, headers: CIMultiDict[str], body: Any, *, expected: tuple[int, int, str, str], www: str | None
) -> None:
    """`expected` = (HTTP status, JSON-RPC code, stable code, message); the body is exactly the error."""
    http_status, rpc_code, code, message = expected
    assert status == http_status
    assert body == {
        "jsonrpc": "2.0",
        "error": {
            "code": rpc_code,
            "message": message,
            "data": {"code": code, "request_id": headers["X-Request-Id"]},
        },
        "id": None,
    }
    assert headers.get("WWW-Authenticate") == www


def refused_reason(log: str, request_id: str) -> str | None:
    """The internal reason the identify stage logged for one request (clients never see it)."""
    for line in log.splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("event") == "credential_refused" and entry.get("request_id") == request_id:
                return str(entry["reason"])
    return None


async def add_client(sc: RunningSidecar, site_name: str = "demo", user: str = "editor") -> tuple[str, str]:
    record, secret = await sc.sidecar.services.identity.clients.add(site_name, "bot", user, SCOPES)
    assert secret is not None
    return record.client_id, secret


async def client_token(sc: RunningSidecar, client_id: str, secret: str, *, host: str | None = None) -> str:
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    headers = {"Host": host} if host else {}
    async with sc.http.post(sc.url + "/oauth/token", data=form, headers=headers) as response:
        assert response.status == 200, await response.text()
        return str((await response.json())["access_token"])


async def mint(
    sc: RunningSidecar, *, clock: Callable[[], float] = time.time, audience: str | None = None
) -> str:
    """A client_credentials token of site demo minted by the sidecar's own token service and keys."""
    identity = sc.sidecar.services.identity
    service = TokenService(
        sc.sidecar.services.store,
        identity.keyring,
        issuer=sc.sidecar.services.holder.current.issuer,
        clock=clock,
    )
    minted = await service.mint(
        site="demo",
        audience=audience or site(sc).resource,
        subject="mcpc_direct",
        client_id="mcpc_direct",
        scopes=SCOPES,
        ttl_hours=1,
        extra_claims={WP_USER_CLAIM: "admin", GRANT_CLAIM: "client_credentials"},
    )
    return minted.token


async def issue_key(sc: RunningSidecar, site_name: str = "demo", **options: Any) -> tuple[str, str]:
    issued = await sc.sidecar.services.identity.keys.issue(
        site_name, "admin", label="t", scopes=SCOPES, **options
    )
    return issued.raw, issued.record.id


def reached_mcp(demo: RunningDemo) -> list[Any]:
    """Requests that reached the MCP endpoint (the gate's entitlement probe of /wp-json/ is not one)."""
    return [r for r in demo.site.requests if r.path == MCP]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- missing, malformed, both ---------------------------------------------------------------------


async def test_missing_token_challenge_has_no_error_but_names_the_metadata(
    sc: RunningSidecar, demo: RunningDemo
) -> None:
    status, headers, body = await post_mcp(sc, {})
    message = "This endpoint needs an X-API-Key or a Bearer token."
    assert_refused(status, headers, body, expected=(401, -32010, "missing_token", message), www=challenge())
    status, headers, body = await post_mcp(sc, {}, host=OTHER_HOST)
    assert_refused(
        status, headers, body, expected=(401, -32010, "missing_token", message), www=challenge(prm=OTHER_PRM)
    )
    assert reached_mcp(demo) == []  # refused without touching WordPress


BEARER_SHAPE = "The Authorization header must be 'Bearer <token>'."
NOT_BEARER = "Only the Bearer scheme is accepted in the Authorization header."
BAD_TOKEN_CHARS = "The Authorization header does not hold a single well-formed token."
BAD_KEY_CHARS = "The X-API-Key header does not hold a single well-formed token."


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"Authorization": "Basic YWRtaW46cGFzcw=="}, NOT_BEARER),
        ({"Authorization": "Token abc"}, NOT_BEARER),
        ({"Authorization": "Bearer"}, BEARER_SHAPE),
        ({"Authorization": ""}, BEARER_SHAPE),
        ({"Authorization": "Bearer a b"}, BEARER_SHAPE),
        ({"Authorization": "Bearer a,b"}, BAD_TOKEN_CHARS),
        ({"Authorization": "Bearer " + "a" * 5000}, "The Authorization header is longer than 4096 bytes."),
        ({"X-API-Key": ""}, BAD_KEY_CHARS),
        ({"X-API-Key": "wpmcp_a b"}, BAD_KEY_CHARS),
        ({"X-API-Key": "wpmcp_" + "a" * 4100}, "The X-API-Key header is longer than 4096 bytes."),
        (
            CIMultiDict([("X-API-Key", "wpmcp_a"), ("X-API-Key", "wpmcp_b")]),
            "The X-API-Key header was sent more than once.",
        ),
        (
            CIMultiDict([("Authorization", "Bearer a"), ("Authorization", "Bearer b")]),
            "The Authorization header was sent more than once.",
        ),
    ],
)
async def test_malformed_credential_headers_are_invalid_header(
    sc: RunningSidecar, demo: RunningDemo, headers: Any, message: str
) -> None:
    status, response_headers, body = await post_mcp(sc, headers)
    assert_refused(
        status,
        response_headers,
        body,
        expected=(401, -32010, "invalid_header", message),
        # RFC 6750 has no invalid_header: the challenge says invalid_request, the body the precise code.
        www=challenge("invalid_request", message),
    )
    assert reached_mcp(demo) == []


async def test_both_credentials_at_once_are_a_bad_request(sc: RunningSidecar, demo: RunningDemo) -> None:
    raw, _ = await issue_key(sc)
    token = await mint(sc)
    message = "Send either an Authorization bearer token or an X-API-Key, not both."
    status, headers, body = await post_mcp(sc, {"X-API-Key": raw, **bearer(token)})
    assert_refused(
        status,
        headers,
        body,
        expected=(400, -32600, "invalid_request", message),
        www=challenge("invalid_request", message),
    )
    assert reached_mcp(demo) == []


@pytest.mark.parametrize("spelling", ["bearer {}", "BEARER {}", "  Bearer   {}  ", "Bearer\t{}"])
async def test_bearer_scheme_is_case_insensitive_and_whitespace_tolerant(
    sc: RunningSidecar, spelling: str
) -> None:
    raw, _ = await issue_key(sc)  # an API key may also travel as a bearer token
    status, _, body = await post_mcp(sc, {"Authorization": spelling.format(raw)})
    assert status == 200, body
    status, _, body = await post_mcp(sc, {"Authorization": spelling.format(await mint(sc))})
    assert status == 200, body


# -- invalid_token: every way a credential can be dead ------------------------------------------------

Builder = Callable[[RunningSidecar], Awaitable[dict[str, str]]]


async def unknown_key(sc: RunningSidecar) -> dict[str, str]:
    return {"X-API-Key": "wpmcp_" + "A" * 43}


async def garbage_jwt(sc: RunningSidecar) -> dict[str, str]:
    return bearer("eyJhbGciOiJFUzI1NiJ9.e30.c2lnbmF0dXJl")


async def expired_key(sc: RunningSidecar) -> dict[str, str]:
    # Issued two hours ago with a one-hour lifetime, written through the real store.
    past = KeyService(
        sc.sidecar.services.store,
        pepper=TEST_PEPPER.encode(),
        default_ttl_hours=1,
        clock=lambda: time.time() - 7200,
    )
    issued = await past.issue("demo", "admin", label="old", scopes=SCOPES, ttl_hours=1)
    return {"X-API-Key": issued.raw}


async def expired_token(sc: RunningSidecar) -> dict[str, str]:
    return bearer(await mint(sc, clock=lambda: time.time() - 7200))


async def revoked_key(sc: RunningSidecar) -> dict[str, str]:
    raw, key_id = await issue_key(sc)
    assert (await post_mcp(sc, {"X-API-Key": raw}))[0] == 200
    assert await sc.sidecar.services.identity.keys.revoke(key_id)
    return {"X-API-Key": raw}


async def revoked_keys_of_the_site(sc: RunningSidecar) -> dict[str, str]:
    raw, _ = await issue_key(sc)
    assert (await post_mcp(sc, {"X-API-Key": raw}))[0] == 200
    assert await sc.sidecar.services.identity.keys.revoke_all("demo") >= 1
    return {"X-API-Key": raw}


async def revoked_token(sc: RunningSidecar) -> dict[str, str]:
    token = await mint(sc)
    assert (await post_mcp(sc, bearer(token)))[0] == 200
    claims = jwt.decode(token, options={"verify_signature": False})
    await sc.sidecar.services.identity.tokens.revoke(claims["jti"], claims["exp"])
    return bearer(token)


async def revoked_tokens_of_the_site(sc: RunningSidecar) -> dict[str, str]:
    token = await mint(sc)
    assert (await post_mcp(sc, bearer(token)))[0] == 200
    await sc.sidecar.services.identity.tokens.revoke_all(site="demo")
    return bearer(token)


async def wrong_audience(sc: RunningSidecar) -> dict[str, str]:
    return bearer(await mint(sc, audience="https://evil.example/wp-json/mcp/mcp-adapter-default-server"))


async def token_of_another_site(sc: RunningSidecar) -> dict[str, str]:
    client_id, secret = await add_client(sc, "other")
    token = await client_token(sc, client_id, secret, host=OTHER_HOST)
    assert (await post_mcp(sc, bearer(token), host=OTHER_HOST))[0] == 200  # good where it was minted
    return bearer(token)


async def key_of_another_site(sc: RunningSidecar) -> dict[str, str]:
    raw, _ = await issue_key(sc, "other")
    assert (await post_mcp(sc, {"X-API-Key": raw}, host=OTHER_HOST))[0] == 200
    return {"X-API-Key": raw}


async def tampered_payload(sc: RunningSidecar) -> dict[str, str]:
    head, payload, signature = (await mint(sc)).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["wp_user"] = "admin"
    claims["scope"] = "mcp.read content.read settings.write"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return bearer(f"{head}.{forged}.{signature}")


async def signed_by_another_key(sc: RunningSidecar) -> dict[str, str]:
    real = await mint(sc)
    header = jwt.get_unverified_header(real)
    claims = jwt.decode(real, options={"verify_signature": False})
    forged = jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers=header)
    return bearer(forged)


async def unsigned(sc: RunningSidecar) -> dict[str, str]:
    head, payload, _ = (await mint(sc)).split(".")
    header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    none = base64.urlsafe_b64encode(json.dumps({**header, "alg": "none"}).encode()).rstrip(b"=").decode()
    return bearer(f"{none}.{payload}.")


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (unknown_key, "unknown"),
        (garbage_jwt, "wrong_algorithm_or_type"),
        (expired_key, "expired"),
        (expired_token, "expired"),
        (revoked_key, "revoked"),
        (revoked_keys_of_the_site, "revoked"),
        (revoked_token, "revoked"),
        (revoked_tokens_of_the_site, "revoked_all"),
        (wrong_audience, "wrong_audience"),
        (token_of_another_site, "wrong_audience"),
        (key_of_another_site, "other_site"),
        (tampered_payload, "bad_signature"),
        (signed_by_another_key, "bad_signature"),
        (unsigned, "wrong_algorithm_or_type"),
    ],
    ids=lambda value: getattr(value, "__name__", value),
)
async def test_dead_credentials_are_invalid_token(
    sc: RunningSidecar, demo: RunningDemo, capsys: pytest.CaptureFixture[str], build: Builder, reason: str
) -> None:
    configure_logging(level="info", fmt="json")
    headers = await build(sc)
    demo.site.reset_counters()
    status, response_headers, body = await post_mcp(sc, headers)
    assert_refused(
        status,
        response_headers,
        body,
        expected=(401, -32010, "invalid_token", INVALID_TOKEN),
        www=challenge("invalid_token", INVALID_TOKEN),
    )
    assert reached_mcp(demo) == []
    # The client learns one sentence; the log says which check refused it.
    assert refused_reason(capsys.readouterr().out, response_headers["X-Request-Id"]) == reason


# -- credentials that work -----------------------------------------------------------------------------


async def sdk_tools(url: str, headers: dict[str, str]) -> list[str]:
    """initialize + tools/list with the mcp SDK's own client through the sidecar."""
    async with (
        create_mcp_http_client(headers=headers) as http,
        Client(streamable_http_client(url, http_client=http), mode="legacy") as client,
    ):
        return [tool.name for tool in (await client.list_tools()).tools]


async def test_api_key_and_issued_token_work_with_the_mcp_client(
    sc: RunningSidecar, demo: RunningDemo
) -> None:
    raw, _ = await issue_key(sc)
    client_id, secret = await add_client(sc)
    token = await client_token(sc, client_id, secret)
    expected = [
        "mcp-adapter-discover-abilities",
        "mcp-adapter-get-ability-info",
        "mcp-adapter-execute-ability",
    ]
    assert await sdk_tools(sc.url + MCP, {"X-API-Key": raw}) == expected
    assert await sdk_tools(sc.url + MCP, bearer(token)) == expected
    assert demo.site.calls["initialize"] == 2
    assert demo.site.calls["tools/list"] == 2


async def test_ttl_zero_key_never_expires(sc: RunningSidecar) -> None:
    raw, key_id = await issue_key(sc, ttl_hours=0)
    record = await sc.sidecar.services.store.get_key(key_id)
    assert record is not None
    assert record.expires_at is None
    assert (await post_mcp(sc, {"X-API-Key": raw}))[0] == 200
    # Ten years on, the same record still authenticates.
    later = KeyService(
        sc.sidecar.services.store,
        pepper=TEST_PEPPER.encode(),
        default_ttl_hours=1,
        clock=lambda: time.time() + 10 * 365 * 86400,
    )
    assert (await later.authenticate(raw)).id == key_id


async def test_key_ttl_is_enforced_at_the_hour(sc: RunningSidecar) -> None:
    raw, key_id = await issue_key(sc, ttl_hours=1)
    record = await sc.sidecar.services.store.get_key(key_id)
    assert record is not None
    assert record.expires_at == pytest.approx(record.created_at + 3600)
    assert (await post_mcp(sc, {"X-API-Key": raw}))[0] == 200
    just_after = KeyService(
        sc.sidecar.services.store,
        pepper=TEST_PEPPER.encode(),
        default_ttl_hours=1,
        clock=lambda: record.created_at + 3600,
    )
    with pytest.raises(Exception, match="expired"):
        await just_after.authenticate(raw)


async def test_last_used_reaches_the_store(sc: RunningSidecar) -> None:
    raw, key_id = await issue_key(sc)
    before = time.time()
    assert (await post_mcp(sc, {"X-API-Key": raw}))[0] == 200
    deadline = time.monotonic() + 5
    while True:  # the flush runs every identity.last_used_flush_seconds (0.1 s here)
        record = await sc.sidecar.services.store.get_key(key_id)
        assert record is not None
        if record.last_used_at is not None or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert record.last_used_at is not None
    assert before - 1 <= record.last_used_at <= time.time()


# -- secrets never leak --------------------------------------------------------------------------------


def basic_of(login: str) -> str:
    return "Basic " + base64.b64encode(f"{login}:{DEMO_APP_PASSWORDS[login]}".encode()).decode()


async def test_secrets_never_reach_logs_metrics_or_wordpress(
    sc: RunningSidecar, demo: RunningDemo, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(level="debug", fmt="json")
    raw, _ = await issue_key(sc)
    client_id, secret = await add_client(sc)
    seen: list[str] = []
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    async with sc.http.post(sc.url + "/oauth/token", data=form) as response:
        token = str((await response.json())["access_token"])  # the one answer that may carry it
    async with sc.http.post(
        sc.url + "/oauth/token", data={**form, "client_secret": secret + "x"}
    ) as response:
        assert response.status == 401
        seen.append(await response.text())
    for headers in ({"X-API-Key": raw[:-1] + "x"}, bearer(token + "x")):
        status, response_headers, body = await post_mcp(sc, headers)
        seen.append(json.dumps([dict(response_headers), body]))
    call = {
        "jsonrpc": "2.0",
        "id": 2,
        "method": "tools/call",
        "params": {"name": "mcp-adapter-discover-abilities", "arguments": {}},
    }
    for headers in ({"X-API-Key": raw}, bearer(token)):  # a session and a tool call with each
        status, response_headers, body = await post_mcp(sc, headers)
        assert status == 200
        seen.append(json.dumps([dict(response_headers), body]))
        session = {**headers, "Mcp-Session-Id": response_headers["Mcp-Session-Id"]}
        status, response_headers, body = await post_mcp(sc, session, body=call)
        assert status == 200, body
        seen.append(json.dumps([dict(response_headers), body]))

    logs = capsys.readouterr().out
    assert '"event": "request"' in logs  # the capture really holds the access log
    metrics = await sc.metrics_text()
    upstream = json.dumps([[r.method, r.path, r.query, r.headers] for r in demo.site.requests])
    for secret_value in (raw, token, secret, token.split(".")[2], *DEMO_APP_PASSWORDS.values()):
        assert secret_value not in logs
        assert secret_value not in metrics
        assert secret_value not in "".join(seen)  # no answer echoes a credential
    for client_secret in (raw, token, secret, token.split(".")[2]):
        assert client_secret not in upstream
    # WordPress saw only the mapped users' Application Passwords, never the client's credential.
    mcp_requests = [r for r in demo.site.requests if r.path == MCP]
    assert len(mcp_requests) == 4
    assert all("x-api-key" not in r.headers for r in mcp_requests)
    assert {r.headers["authorization"] for r in mcp_requests} == {basic_of("admin"), basic_of("editor")}


async def test_our_credentials_are_dropped_on_website_routes(sc: RunningSidecar, demo: RunningDemo) -> None:
    raw, _ = await issue_key(sc)
    token = await mint(sc)
    for headers in ({"X-API-Key": raw}, bearer(token), bearer(raw)):
        async with sc.http.get(sc.url + "/wp-json/wp/v2/posts", headers=headers) as response:
            assert response.status == 200
    assert len(demo.site.requests) == 3
    assert all("x-api-key" not in r.headers and "authorization" not in r.headers for r in demo.site.requests)
    # A plugin's own credentials are none of our business: they pass untouched.
    foreign = {"X-API-Key": "plugin-key-123", "Authorization": "Bearer plugin.jwt.value"}
    async with sc.http.get(sc.url + "/wp-json/wp/v2/posts", headers=foreign) as response:
        assert response.status == 200
    assert demo.site.requests[-1].headers["x-api-key"] == "plugin-key-123"
    assert demo.site.requests[-1].headers["authorization"] == "Bearer plugin.jwt.value"


# -- hostile header bytes ------------------------------------------------------------------------------


async def raw_exchange(url: str, extra: bytes, *, body: bytes = b"{}") -> tuple[int, dict[str, str], bytes]:
    """One request written byte for byte (for what aiohttp's client would refuse to send)."""
    target = URL(url)
    reader, writer = await asyncio.open_connection(target.host, target.port)
    head = (
        f"POST {MCP} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
        f"Accept: application/json, text/event-stream\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
    ).encode()
    writer.write(head + extra + b"\r\n" + body)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    await writer.wait_closed()
    head_bytes, _, payload = data.partition(b"\r\n\r\n")
    status_line, *lines = head_bytes.decode("latin-1").split("\r\n")
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, payload


@pytest.mark.parametrize(
    "extra",
    [
        b"X-API-Key: \r\n",
        b"X-API-Key: wpmcp_\xff\xfe\xfd\r\n",
        b"Authorization: Bearer \xc3\x28abc\r\n",
        b"Authorization: Bearer caf\xc3\xa9\r\n",
        b"X-API-Key: wpmcp_" + b"a" * 5000 + b"\r\n",
        b"Authorization: \r\n",
    ],
    ids=[
        "empty-key",
        "non-utf8-key",
        "non-utf8-bearer",
        "utf8-non-ascii-bearer",
        "key-over-4k",
        "empty-authorization",
    ],
)
async def test_unreadable_credential_bytes_get_a_json_401(
    sc: RunningSidecar, demo: RunningDemo, extra: bytes
) -> None:
    status, headers, payload = await raw_exchange(sc.url, extra)
    assert status == 401
    assert headers["content-type"].startswith("application/json")
    assert json.loads(payload)["error"]["data"]["code"] == "invalid_header"
    assert headers["www-authenticate"].startswith('Bearer realm="demo", error="invalid_request"')
    assert reached_mcp(demo) == []


@pytest.mark.parametrize(
    "extra",
    [
        b"X-API-Key: wpmcp_" + b"a" * 9000 + b"\r\n",
        b"Authorization: Bearer " + b"a" * 9000 + b"\r\n",
        b"X-API-Key: wpmcp_ab\x01cd\r\n",
        b"Authorization: Bearer ab\x7fcd\r\n",
        b"X-API-Key: wpmcp_ab\x00cd\r\n",
    ],
    ids=["key-over-8k", "bearer-over-8k", "key-control-char", "bearer-del", "key-nul"],
)
async def test_unparsable_headers_are_a_400_without_a_trace_in_logs(
    sc: RunningSidecar, demo: RunningDemo, capsys: pytest.CaptureFixture[str], extra: bytes
) -> None:
    """The HTTP parser refuses these before any handler runs: a 400, and one log line without the bytes."""
    configure_logging(level="info", fmt="json")
    status, _, payload = await raw_exchange(sc.url, extra)
    assert status == 400
    assert b"Traceback" not in payload
    captured = capsys.readouterr()
    logs = captured.out + captured.err
    assert "Traceback" not in logs
    assert "wpmcp_" not in logs
    assert "aaaaaaaa" not in logs
    assert '"event": "unparsable_request"' in logs
    assert reached_mcp(demo) == []


def _ping_padded_to(size: int) -> bytes:
    """A valid JSON-RPC ping of `size` bytes (whitespace padding), so only its size can be refused."""
    head = b'{"jsonrpc": "2.0", "id": 1, "method": "ping"'
    return head + b" " * (size - len(head) - 1) + b"}"


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 64 * 1024):
        yield body[start : start + 64 * 1024]


@pytest.mark.parametrize("sent", ["declared", "chunked", "gzip"])
async def test_an_mcp_body_over_its_limit_is_413_before_wordpress(
    sc: RunningSidecar, demo: RunningDemo, sent: str
) -> None:
    """`limits.max_mcp_body_bytes` (1 MiB) holds however the body comes: with its length, chunked, or
    gzip-encoded (a small body on the wire that the server decodes to more than the limit)."""
    raw, _ = await issue_key(sc)
    body = _ping_padded_to(1024 * 1024 + 1)
    headers = {**JSON_HEADERS, "X-API-Key": raw}
    data: Any = body
    if sent == "chunked":
        data = _chunks(body)
    elif sent == "gzip":
        data = gzip.compress(body)
        headers["Content-Encoding"] = "gzip"
        assert len(data) < 10_000
    demo.site.reset_counters()
    async with sc.http.post(sc.url + MCP, data=data, headers=headers) as response:
        assert response.status == 413
        answer = await response.json()
    assert answer["error"]["data"]["code"] == "body_too_large"
    assert reached_mcp(demo) == []
    async with sc.http.post(sc.url + MCP, data=_ping_padded_to(1024 * 1024), headers=headers) as response:
        assert response.status != 413  # the limit itself is allowed


# -- a second replica sharing Redis ------------------------------------------------------------------


async def test_revocation_reaches_a_second_sidecar_process(
    demo: RunningDemo, tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    demo.site.reset()
    data = config_data(
        demo.url,
        top={
            "store": {"backend": "redis", "redis_url": redis_url, "prefix": redis_prefix},
            "identity": {"revocation_cache_seconds": 0.2},
        },
    )
    config = write_config(tmp_path / "sidecar.yaml", data)
    issued = await asyncio.gather(
        run_cli(config, "keys", "issue", "--site", "localhost", "--user", "admin", "--format", "json"),
        run_cli(config, "keys", "issue", "--site", "localhost", "--user", "editor", "--format", "json"),
        run_cli(
            config,
            "clients",
            "add",
            "--site",
            "demo",
            "--name",
            "bot",
            "--user",
            "editor",
            "--format",
            "json",
        ),
    )
    assert [result.code for result in issued] == [0, 0, 0], [result.stderr for result in issued]
    first_key, second_key = issued[0].json(), issued[1].json()
    client = issued[2].json()
    async with (
        running_sidecar(Config.model_validate(data), config_path=config) as one,
        sidecar_process(config, name="replica") as two,
    ):
        tokens = [await client_token(one, client["client_id"], client["client_secret"]) for _ in range(2)]
        credentials = {
            "first_key": {"X-API-Key": first_key["key"]},
            "second_key": {"X-API-Key": second_key["key"]},
            "first_token": bearer(tokens[0]),
            "second_token": bearer(tokens[1]),
        }

        async def statuses() -> dict[str, tuple[int, int]]:
            result = {}
            for name, headers in credentials.items():
                async with one.http.post(
                    two.url + MCP, json=INITIALIZE_REQUEST, headers={**JSON_HEADERS, **headers}
                ) as response:
                    on_two = response.status
                result[name] = ((await post_mcp(one, headers))[0], on_two)
            return result

        async def settle(expected: dict[str, tuple[int, int]]) -> None:
            deadline = time.monotonic() + 5
            while (seen := await statuses()) != expected and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert seen == expected

        await settle(dict.fromkeys(credentials, (200, 200)))
        jti = jwt.decode(tokens[0], options={"verify_signature": False})["jti"]
        revoked = await asyncio.gather(
            run_cli(config, "keys", "revoke", first_key["id"]), run_cli(config, "tokens", "revoke", jti)
        )
        assert [result.code for result in revoked] == [0, 0], [result.stderr for result in revoked]
        await settle(
            {
                "first_key": (401, 401),
                "second_key": (200, 200),
                "first_token": (401, 401),
                "second_token": (200, 200),
            }
        )
        revoked = await asyncio.gather(
            run_cli(config, "keys", "revoke-all", "--site", "demo"),
            run_cli(config, "tokens", "revoke-all", "--site", "demo"),
        )
        assert [result.code for result in revoked] == [0, 0], [result.stderr for result in revoked]
        await settle(dict.fromkeys(credentials, (401, 401)))
        # What the HTTP parser refuses is logged by the real `run` as one line, without the bytes.
        assert (await raw_exchange(two.url, f"X-API-Key: {second_key['key']}\x01\r\n".encode()))[0] == 400
        await asyncio.sleep(0.2)
        replica_log = two.output()
    assert '"event": "request"' in replica_log
    assert '"event": "unparsable_request"' in replica_log
    assert "Traceback" not in replica_log
    for secret in (first_key["key"], second_key["key"], client["client_secret"], *tokens):
        assert secret not in replica_log
