from __future__ import annotations

import base64
from typing import Any

import pytest

from proxy.identity.oauth.errors import InvalidClientError, InvalidRequestError, OAuthError
from proxy.identity.oauth.request import TokenRequest, form_params, parse_token_request
from tests.identity.factories import basic

CC = {"grant_type": "client_credentials"}


def parse(params: dict[str, Any], authorization: str | None = None) -> TokenRequest:
    return parse_token_request(params, authorization, realm="demo")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("params", "authorization", "expected"),
    [
        (CC, basic("id", "secret"), ("id", "secret", "client_secret_basic")),
        (CC, "basic " + b64("id:secret"), ("id", "secret", "client_secret_basic")),
        (CC, "BASIC   " + b64("id:secret") + "  ", ("id", "secret", "client_secret_basic")),
        (
            CC,
            basic("id with:colon", "p@ss word+/%"),
            ("id with:colon", "p@ss word+/%", "client_secret_basic"),
        ),
        (CC, "Basic " + b64("id:sec:ret"), ("id", "sec:ret", "client_secret_basic")),
        (CC, basic("caf\u00e9", "s\u00e9cret"), ("caf\u00e9", "s\u00e9cret", "client_secret_basic")),
        ({**CC, "client_id": "id"}, basic("id", "secret"), ("id", "secret", "client_secret_basic")),
        ({**CC, "client_id": "id", "client_secret": "s"}, None, ("id", "s", "client_secret_post")),
        ({**CC, "client_id": "id"}, None, ("id", None, "none")),
        ({**CC, "client_id": "id", "client_secret": ""}, None, ("id", None, "none")),
        ({**CC, "client_id": "id", "client_secret": "s"}, "", ("id", "s", "client_secret_post")),
    ],
)
def test_client_authentication_methods(
    params: dict[str, Any], authorization: str | None, expected: tuple[str, str | None, str]
) -> None:
    request = parse(params, authorization)
    assert (request.client_id, request.client_secret, request.auth_method) == expected
    assert request.grant_type == "client_credentials"


def test_empty_parameters_count_as_absent() -> None:
    request = parse({**CC, "client_id": "id", "scope": "", "resource": ""})
    assert request.param("scope") is None
    assert request.param("resource") is None
    with pytest.raises(InvalidRequestError, match="The scope parameter is required"):
        request.require("scope")


@pytest.mark.parametrize(
    ("params", "authorization", "error", "basic_challenge"),
    [
        ({"client_id": "id"}, None, InvalidRequestError, False),
        ({"grant_type": ""}, basic("id", "s"), InvalidRequestError, False),
        ({**CC, "client_secret": "s"}, basic("id", "s"), InvalidRequestError, False),
        ({**CC, "client_id": "other"}, basic("id", "s"), InvalidRequestError, False),
        ({**CC, "client_secret": "s"}, None, InvalidRequestError, False),
        ({**CC, "client_id": 5}, None, InvalidRequestError, False),
        ({**CC, "scope": ["a", "b"]}, basic("id", "s"), InvalidRequestError, False),
        (CC, None, InvalidClientError, True),
        (CC, "Basic", InvalidClientError, True),
        (CC, "Basic !!!notbase64", InvalidClientError, True),
        (CC, "Basic " + b64("id:secret")[:-1], InvalidClientError, True),
        (CC, "Basic " + b64("no-colon"), InvalidClientError, True),
        (CC, "Basic " + b64(":secret"), InvalidClientError, True),
        (CC, "Basic " + b64("id:"), InvalidClientError, True),
        (CC, "Basic " + base64.b64encode(b"\xff\xfe:\x80").decode(), InvalidClientError, True),
        (CC, "Basic " + b64("%ff:secret"), InvalidClientError, True),
        (CC, "Basic " + b64("id:secret") + " extra", InvalidClientError, True),
        (CC, "Bearer abc", InvalidClientError, True),
        (CC, "Basic " + "A" * 5000, InvalidClientError, True),
    ],
)
def test_refusals(
    params: dict[str, Any], authorization: str | None, error: type[OAuthError], basic_challenge: bool
) -> None:
    with pytest.raises(error) as caught:
        parse(params, authorization)
    assert ("WWW-Authenticate" in caught.value.headers) is basic_challenge
    if basic_challenge:
        assert caught.value.headers["WWW-Authenticate"].startswith('Basic realm="demo"')


def test_form_params_refuses_repeats() -> None:
    assert form_params([("a", "1"), ("b", "2")]) == {"a": "1", "b": "2"}
    with pytest.raises(InvalidRequestError, match="more than once"):
        form_params([("scope", "a"), ("scope", "b")])
