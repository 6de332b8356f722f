from __future__ import annotations

import pytest

from proxy.identity.oauth.errors import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    InvalidTargetError,
    OAuthError,
    UnauthorizedClientError,
    UnsupportedGrantTypeError,
)


@pytest.mark.parametrize(
    ("cls", "code", "status"),
    [
        (InvalidRequestError, "invalid_request", 400),
        (InvalidClientError, "invalid_client", 401),
        (InvalidGrantError, "invalid_grant", 400),
        (UnauthorizedClientError, "unauthorized_client", 400),
        (UnsupportedGrantTypeError, "unsupported_grant_type", 400),
        (InvalidScopeError, "invalid_scope", 400),
        (InvalidTargetError, "invalid_target", 400),
    ],
)
def test_each_error_has_its_code_status_and_body(cls: type[OAuthError], code: str, status: int) -> None:
    error = cls("Something is wrong.")
    assert (error.error, error.status, error.headers) == (code, status, {})
    assert error.body() == {"error": code, "error_description": "Something is wrong."}
    assert error.reason == "Something is wrong."


def test_reason_is_kept_apart_from_the_body() -> None:
    error = InvalidClientError("Client authentication failed.", reason="bad_secret")
    assert error.reason == "bad_secret"
    assert "bad_secret" not in str(error.body())


def test_invalid_client_names_basic_when_basic_was_tried() -> None:
    error = InvalidClientError("Client authentication failed.", basic_realm="demo")
    assert error.status == 401
    assert error.headers == {"WWW-Authenticate": 'Basic realm="demo", charset="UTF-8"'}
