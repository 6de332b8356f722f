"""Discovery settings: defaults, validation, frozen."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from proxy.discovery.cors import CorsSettings
from proxy.discovery.settings import DiscoverySettings
from proxy.validation import describe_validation_error


def test_defaults() -> None:
    settings = DiscoverySettings()
    assert settings.max_age_seconds == 300
    assert settings.cors == CorsSettings()
    assert settings.fallback_routes == ["/wp-json/mcp/discovery"]
    assert (settings.description, settings.documentation_url) == (None, None)


def test_a_full_section() -> None:
    settings = DiscoverySettings.model_validate(
        {
            "max_age_seconds": 60,
            "cors": {"allow_origins": ["https://app.example"], "max_age": 30},
            "fallback_routes": ["/wp-json/mcp/discovery", "/blog/wp-json/mcp/discovery"],
            "description": "Agents welcome",
            "documentation_url": "https://example.com/agents",
        }
    )
    assert settings.cors.allow_origins == ["https://app.example"]
    assert settings.documentation_url == "https://example.com/agents"  # kept as written
    assert DiscoverySettings(fallback_routes=[]).fallback_routes == []


@pytest.mark.parametrize(
    ("data", "line"),
    [
        ({"max_age_seconds": -1}, "d.yaml: max_age_seconds: expected greater than or equal to 0, found -1"),
        ({"max_age": 5}, "d.yaml: max_age: unknown key"),
        ({"cors": {"origins": []}}, "d.yaml: cors.origins: unknown key"),
        (
            {"fallback_routes": ["/ok", "wp-json/mcp/discovery"]},
            "d.yaml: fallback_routes.1: expected: an absolute path such as /wp-json/mcp/discovery, "
            "found 'wp-json/mcp/discovery'",
        ),
        ({"fallback_routes": ["//evil.example/x"]}, "an absolute path"),
        ({"fallback_routes": ["/x?y=1"]}, "an absolute path"),
        ({"fallback_routes": ["/.well-known/mcp"]}, "outside /.well-known/"),
        ({"fallback_routes": ["/a", "/a"]}, "route listed once"),
        (
            {"documentation_url": "example.com/docs"},
            "d.yaml: documentation_url: expected: an http(s) URL such as https://example.com/docs, "
            "found 'example.com/docs'",
        ),
    ],
)
def test_refused_with_a_readable_line(data: dict[str, Any], line: str) -> None:
    with pytest.raises(ValidationError) as refused:
        DiscoverySettings.model_validate(data)
    (problem,) = describe_validation_error("d.yaml", refused.value)
    assert line in problem


def test_frozen() -> None:
    with pytest.raises(ValidationError, match="frozen"):
        DiscoverySettings().max_age_seconds = 1
