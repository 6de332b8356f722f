"""CORS for the discovery documents: allowed, not allowed, wildcard, preflight."""

from __future__ import annotations

from typing import Any

import pytest
from multidict import CIMultiDict
from pydantic import ValidationError

from proxy.discovery.cors import (
    ALLOW_HEADERS,
    ALLOW_METHODS,
    CORS_METHOD_NOT_ALLOWED,
    CORS_ORIGIN_NOT_ALLOWED,
    CorsSettings,
    cors_headers,
    preflight,
)
from proxy.errors import SidecarError

APP = "https://app.example"
LISTED = CorsSettings(allow_origins=[APP, "http://localhost:3000"], max_age=120)
ANY = CorsSettings(allow_origins=["*"])
NONE = CorsSettings()

GET_ALLOWED = {"Vary": "Origin", "Access-Control-Allow-Origin": APP, "Access-Control-Expose-Headers": "ETag"}
PREFLIGHT_ALLOWED = {
    "Vary": "Origin",
    "Access-Control-Allow-Origin": APP,
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": ALLOW_HEADERS,
    "Access-Control-Max-Age": "120",
}


@pytest.mark.parametrize(
    ("settings", "origin", "is_preflight", "expected"),
    [
        (LISTED, APP, False, GET_ALLOWED),
        (LISTED, APP, True, PREFLIGHT_ALLOWED),
        (
            LISTED,
            "HTTPS://APP.EXAMPLE",
            False,
            {**GET_ALLOWED, "Access-Control-Allow-Origin": "HTTPS://APP.EXAMPLE"},
        ),
        (
            LISTED,
            "http://localhost:3000",
            False,
            {**GET_ALLOWED, "Access-Control-Allow-Origin": "http://localhost:3000"},
        ),
        (LISTED, "https://evil.example", False, {"Vary": "Origin"}),
        (LISTED, "https://evil.example", True, {"Vary": "Origin"}),
        (LISTED, "http://app.example", False, {"Vary": "Origin"}),  # scheme is part of the origin
        (LISTED, "https://app.example:8443", False, {"Vary": "Origin"}),
        (LISTED, "null", False, {"Vary": "Origin"}),
        (LISTED, None, False, {"Vary": "Origin"}),  # a cache must still key on Origin
        (ANY, APP, False, {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "ETag"}),
        (ANY, "null", False, {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": "ETag"}),
        (
            ANY,
            APP,
            True,
            {
                "Access-Control-Allow-Origin": "*",
                "Access-Control-Allow-Methods": ALLOW_METHODS,
                "Access-Control-Allow-Headers": ALLOW_HEADERS,
                "Access-Control-Max-Age": "600",
            },
        ),
        (ANY, None, False, {}),
        (NONE, APP, False, {}),
        (NONE, APP, True, {}),
        (NONE, None, False, {}),
    ],
)
def test_cors_headers(
    settings: CorsSettings, origin: str | None, is_preflight: bool, expected: dict[str, str]
) -> None:
    assert cors_headers(origin, settings, preflight=is_preflight) == expected


def test_credentials_are_never_allowed() -> None:
    for settings in (LISTED, ANY):
        assert "Access-Control-Allow-Credentials" not in cors_headers(APP, settings, preflight=True)


def _request(**fields: str) -> CIMultiDict[str]:
    return CIMultiDict((name.replace("_", "-"), value) for name, value in fields.items())


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_preflight_allowed(method: str) -> None:
    request = _request(
        Origin=APP, Access_Control_Request_Method=method, Access_Control_Request_Headers="if-none-match"
    )
    assert preflight(request, LISTED) == {"Allow": ALLOW_METHODS, **PREFLIGHT_ALLOWED}


def test_preflight_with_a_wildcard() -> None:
    request = _request(Origin="https://anyone.example", Access_Control_Request_Method="GET")
    headers = preflight(request, ANY)
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "Vary" not in headers


@pytest.mark.parametrize("settings", [LISTED, NONE])
def test_preflight_from_an_origin_not_listed_is_refused(settings: CorsSettings) -> None:
    request = _request(Origin="https://evil.example", Access_Control_Request_Method="GET")
    with pytest.raises(SidecarError) as refused:
        preflight(request, settings)
    assert (refused.value.status, refused.value.code) == (403, CORS_ORIGIN_NOT_ALLOWED)
    assert "Access-Control-Allow-Origin" not in refused.value.headers


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "OPTIONS", "get"])
def test_preflight_for_a_write_method_is_refused(method: str) -> None:
    request = _request(Origin=APP, Access_Control_Request_Method=method)
    with pytest.raises(SidecarError) as refused:
        preflight(request, LISTED)
    assert (refused.value.status, refused.value.code) == (403, CORS_METHOD_NOT_ALLOWED)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, {"Allow": ALLOW_METHODS, "Vary": "Origin"}),
        ({"Access_Control_Request_Method": "GET"}, {"Allow": ALLOW_METHODS, "Vary": "Origin"}),
        ({"Origin": APP}, {"Allow": ALLOW_METHODS, **GET_ALLOWED}),  # not a preflight: a plain OPTIONS
        ({"Origin": "https://evil.example"}, {"Allow": ALLOW_METHODS, "Vary": "Origin"}),
    ],
)
def test_plain_options_learns_allow(fields: dict[str, str], expected: dict[str, str]) -> None:
    assert preflight(_request(**fields), LISTED) == expected


@pytest.mark.parametrize(
    ("origins", "normalised"),
    [
        ([], []),
        (["*"], ["*"]),
        (["HTTPS://App.Example/"], ["https://app.example"]),
        ([" http://localhost:3000 "], ["http://localhost:3000"]),
        (["https://[::1]:8443"], ["https://[::1]:8443"]),
    ],
)
def test_settings_normalise_origins(origins: list[str], normalised: list[str]) -> None:
    assert CorsSettings(allow_origins=origins).allow_origins == normalised


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"allow_origins": ["*", APP]}, "must be the only entry"),
        ({"allow_origins": ["app.example"]}, "an origin such as"),
        ({"allow_origins": ["ftp://app.example"]}, "an origin such as"),
        ({"allow_origins": ["https://app.example/path"]}, "scheme://host"),
        ({"allow_origins": ["https://app.example?x=1"]}, "scheme://host"),
        ({"allow_origins": ["https://user@app.example"]}, "scheme://host"),
        ({"max_age": -1}, "greater than or equal"),
        ({"max_age": 86401}, "less than or equal"),
        ({"allow_methods": ["POST"]}, "Extra inputs"),
    ],
)
def test_settings_refuse(data: dict[str, Any], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        CorsSettings.model_validate(data)
