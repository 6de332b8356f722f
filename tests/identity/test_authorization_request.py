"""Reading an authorization request: what is never redirected, what goes back to the client, what passes."""

from __future__ import annotations

import pytest

from proxy.identity.oauth.authorization import (
    AuthorizationError,
    AuthorizationRequest,
    read_authorization_request,
    redirect_with,
)
from proxy.identity.oauth.grants.authorization_code import s256_challenge
from proxy.identity.services import IdentityServices
from tests.identity.factories import AUDIENCE, OTHER_AUDIENCE, OTHER_SITE, SITE, targets

REDIRECT = "http://127.0.0.1:7777/cb"
CHALLENGE = s256_challenge("v" * 43)
SCOPES = ("mcp.read", "content.read")


async def _client(identity: IdentityServices, **options: object) -> str:
    arguments: dict[str, object] = {
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "public": True,
    }
    arguments.update(options)
    record, _ = await identity.clients.add(SITE, "App", "", SCOPES, **arguments)  # type: ignore[arg-type]
    return record.client_id


def _pairs(client: str, /, **change: str | None) -> list[tuple[str, str]]:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": client,
        "redirect_uri": REDIRECT,
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
        "state": "xyz",
        **change,
    }
    return [(name, value) for name, value in params.items() if value is not None]


async def _read(
    identity: IdentityServices, pairs: list[tuple[str, str]], *, reached: str = AUDIENCE
) -> AuthorizationRequest:
    request, _ = await read_authorization_request(pairs, clients=identity.clients, targets=targets(reached))
    return request


async def test_a_good_request_defaults_scope_and_resource(identity: IdentityServices) -> None:
    client_id = await _client(identity)
    request = await _read(identity, [*_pairs(client_id), ("prompt", "consent"), ("scope", "")])
    assert request == AuthorizationRequest(client_id, REDIRECT, SCOPES, AUDIENCE, CHALLENGE, "xyz")
    assert AuthorizationRequest.from_data(request.to_data()) == request


async def test_scope_and_resource_given(identity: IdentityServices) -> None:
    client_id = await _client(identity)
    request = await _read(identity, _pairs(client_id, scope="content.read", resource=AUDIENCE, state=None))
    assert (request.scopes, request.state) == (("content.read",), None)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"client_id": None}, "invalid_client"),
        ({"client_id": "mcpc_nobody"}, "invalid_client"),
        ({"client_id": "x" * 3000}, "invalid_client"),
        ({"redirect_uri": None}, "invalid_redirect_uri"),
        ({"redirect_uri": REDIRECT + "/"}, "invalid_redirect_uri"),
        ({"redirect_uri": "http://127.0.0.1:7778/cb"}, "invalid_redirect_uri"),
    ],
)
async def test_untrusted_client_or_redirect_is_not_redirected(
    identity: IdentityServices, change: dict[str, str | None], error: str
) -> None:
    client_id = await _client(identity)
    with pytest.raises(AuthorizationError) as refused:
        await _read(identity, _pairs(client_id, **change))
    assert (refused.value.error, refused.value.redirect_uri) == (error, None)


async def test_repeated_client_id_or_redirect_uri_is_not_redirected(identity: IdentityServices) -> None:
    client_id = await _client(identity)
    for name, value in (("client_id", client_id), ("redirect_uri", REDIRECT)):
        with pytest.raises(AuthorizationError) as refused:
            await _read(identity, [*_pairs(client_id), (name, value)])
        assert (refused.value.error, refused.value.redirect_uri) == ("invalid_request", None)


async def test_the_resource_picks_the_site_and_a_public_client_serves_every_site(
    identity: IdentityServices,
) -> None:
    """A public client (as registration makes them) registered at one site's host is good for the other
    site named by `resource`; without `resource`, the request is for the site its Host reached."""
    record, _ = await identity.clients.add(
        OTHER_SITE,
        "App",
        "",
        SCOPES,
        redirect_uris=[REDIRECT],
        grant_types=["authorization_code"],
        public=True,
    )
    assert (await _read(identity, _pairs(record.client_id))).resource == AUDIENCE
    request = await _read(identity, _pairs(record.client_id, resource=OTHER_AUDIENCE))
    assert request.resource == OTHER_AUDIENCE
    assert (
        await _read(identity, _pairs(record.client_id), reached=OTHER_AUDIENCE)
    ).resource == OTHER_AUDIENCE


async def test_a_confidential_client_serves_only_its_site(identity: IdentityServices) -> None:
    client_id = await _client(identity, public=False, redirect_uris=[REDIRECT])
    assert (await _read(identity, _pairs(client_id))).resource == AUDIENCE
    for pairs, reached in (
        (_pairs(client_id, resource=OTHER_AUDIENCE), AUDIENCE),
        (_pairs(client_id), OTHER_AUDIENCE),
    ):
        with pytest.raises(AuthorizationError) as refused:
            await _read(identity, pairs, reached=reached)
        assert (refused.value.error, refused.value.redirect_uri) == ("invalid_target", REDIRECT)
        assert refused.value.description == "This client may not be used for this resource."


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"response_type": None}, "unsupported_response_type"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge": CHALLENGE[:-1]}, "invalid_request"),
        ({"code_challenge": CHALLENGE[:-1] + "="}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"resource": "https://blog.example/other"}, "invalid_target"),
        ({"scope": "settings.write"}, "invalid_scope"),
        ({"scope": 'mcp.read "quoted"'}, "invalid_scope"),
        ({"scope": "x" * 3000}, "invalid_request"),
    ],
)
async def test_other_refusals_go_back_to_the_client(
    identity: IdentityServices, change: dict[str, str | None], error: str
) -> None:
    client_id = await _client(identity)
    with pytest.raises(AuthorizationError) as refused:
        await _read(identity, _pairs(client_id, **change))
    assert (refused.value.error, refused.value.redirect_uri, refused.value.state) == (error, REDIRECT, "xyz")


async def test_a_repeated_parameter_goes_back_and_an_overlong_state_is_not_echoed(
    identity: IdentityServices,
) -> None:
    client_id = await _client(identity)
    with pytest.raises(AuthorizationError) as repeated:
        await _read(identity, [*_pairs(client_id), ("scope", "mcp.read"), ("scope", "content.read")])
    assert (repeated.value.error, repeated.value.redirect_uri) == ("invalid_request", REDIRECT)
    with pytest.raises(AuthorizationError) as overlong:
        await _read(identity, _pairs(client_id, state="s" * 3000))
    assert (overlong.value.error, overlong.value.state) == ("invalid_request", None)


async def test_a_client_without_the_code_grant(identity: IdentityServices) -> None:
    record, _ = await identity.clients.add(
        SITE, "Server", "editor", SCOPES, redirect_uris=[REDIRECT], grant_types=["client_credentials"]
    )
    with pytest.raises(AuthorizationError) as refused:
        await _read(identity, _pairs(record.client_id))
    assert (refused.value.error, refused.value.redirect_uri) == ("unauthorized_client", REDIRECT)


@pytest.mark.parametrize(
    ("uri", "params", "expected"),
    [
        ("https://app.example/cb", {"code": "c", "state": None}, "https://app.example/cb?code=c"),
        ("https://app.example/cb?x=1", {"code": "c d"}, "https://app.example/cb?x=1&code=c+d"),
        (
            "http://127.0.0.1:9/cb",
            {"error": "access_denied", "iss": "https://i.example"},
            "http://127.0.0.1:9/cb?error=access_denied&iss=https%3A%2F%2Fi.example",
        ),
    ],
)
def test_redirect_with_keeps_the_registered_query(
    uri: str, params: dict[str, str | None], expected: str
) -> None:
    assert redirect_with(uri, params) == expected
