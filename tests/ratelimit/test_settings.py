"""Settings: sensible defaults, precise refusals, runtime overrides laid on top."""

from __future__ import annotations

from ipaddress import ip_network
from typing import Any

import pytest
from pydantic import ValidationError

from proxy.ratelimit import Rate, RateLimitOverrides, RateLimitSettings, apply_overrides
from proxy.validation import describe_validation_error


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        RateLimitSettings.model_validate(data)
    return describe_validation_error("rules/ratelimits.yaml", caught.value)


def test_defaults() -> None:
    settings = RateLimitSettings()
    assert (settings.enabled, settings.backend, settings.on_store_error) == (True, "memory", "fail_closed")
    assert (settings.anonymous.requests, settings.anonymous.per_seconds) == (15, 60)
    assert (settings.authenticated.requests, settings.authenticated.per_seconds) == (60, 60)
    assert settings.trusted_proxies == ()


@pytest.mark.parametrize(
    ("rate", "capacity", "interval_us", "window"),
    [
        (Rate(requests=60, per_seconds=60), 60, 1_000_000, 60),
        (Rate(requests=15, per_seconds=60), 15, 4_000_000, 60),
        (Rate(requests=60, per_seconds=60, burst=5), 5, 1_000_000, 5),
        (Rate(requests=1, per_seconds=1, burst=10), 10, 1_000_000, 10),
        (Rate(requests=3, per_seconds=1), 3, 333_333, 1),
        (Rate(requests=7, per_seconds=0.5), 7, 71_429, 1),
    ],
)
def test_rate_arithmetic(rate: Rate, capacity: int, interval_us: int, window: int) -> None:
    assert (rate.capacity, rate.interval_us, rate.window) == (capacity, interval_us, window)


@pytest.mark.parametrize(
    ("data", "path", "fragment"),
    [
        ({"anonymous": {"requests": 0, "per_seconds": 60}}, "anonymous.requests", "greater than 0"),
        ({"tools": {"x": {"requests": 1, "per_seconds": -1}}}, "tools.x.per_seconds", "greater than 0"),
        ({"tools": {"x": {"requests": 1, "per_seconds": "inf"}}}, "tools.x.per_seconds", "finite"),
        ({"anonymous": {"requests": 1, "per_seconds": 60, "burts": 3}}, "anonymous.burts", "unknown key"),
        (
            {"authenticated": {"requests": 1, "per_seconds": 31_000_000, "burst": 9}},
            "authenticated",
            "366 days",
        ),
        ({"backend": "memcached"}, "backend", "'memory' or 'redis'"),
        ({"on_store_error": "open"}, "on_store_error", "'fail_open' or 'fail_closed'"),
        ({"trusted_proxies": ["10.0.0.1/8"]}, "trusted_proxies.0", "network"),
        ({"result_caps": {"anonymous": 0}}, "result_caps.anonymous", "greater than or equal to 1"),
        ({"rate": 5}, "rate", "unknown key"),
    ],
)
def test_refusals_name_the_key(data: dict[str, Any], path: str, fragment: str) -> None:
    (line,) = problems(data)
    assert line.startswith(f"rules/ratelimits.yaml: {path}: ")
    assert fragment in line


def test_trusted_proxies_are_networks() -> None:
    settings = RateLimitSettings.model_validate({"trusted_proxies": ["10.0.0.0/8", "::1", "2001:db8::/32"]})
    assert settings.trusted_proxies == (
        ip_network("10.0.0.0/8"),
        ip_network("::1/128"),
        ip_network("2001:db8::/32"),
    )


def test_settings_are_frozen() -> None:
    with pytest.raises(ValidationError):
        RateLimitSettings().enabled = False


def test_unknown_tier() -> None:
    with pytest.raises(ValueError, match="unknown rate-limit tier"):
        RateLimitSettings().tier_rate("gold")


def test_apply_overrides() -> None:
    rules = RateLimitSettings.model_validate(
        {
            "authenticated": {"requests": 30, "per_seconds": 60},
            "tools": {"a": {"requests": 2, "per_seconds": 60}, "b": {"requests": 3, "per_seconds": 60}},
        }
    )
    overrides = RateLimitOverrides.model_validate(
        {
            "anonymous": {"requests": 5, "per_seconds": 60},
            "registration": {"requests": 1, "per_seconds": 60},
            "tools": {"b": {"requests": 1, "per_seconds": 60}},
        }
    )
    effective = apply_overrides(rules, overrides)
    assert effective.anonymous.requests == 5
    assert effective.registration.requests == 1
    assert effective.authenticated.requests == 30
    assert {name: rate.requests for name, rate in effective.tools.items()} == {"a": 2, "b": 1}
    assert rules.tools["b"].requests == 3  # the rules themselves are untouched
    assert apply_overrides(rules, RateLimitOverrides()) is rules


def test_overrides_cannot_change_structural_settings() -> None:
    with pytest.raises(ValidationError, match="backend"):
        RateLimitOverrides.model_validate({"backend": "memory"})
