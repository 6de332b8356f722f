"""The `store:` config section: defaults, refusals, and no secret in repr()."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from proxy.stores import StoreSettings


def test_defaults_are_the_embedded_sqlite_file() -> None:
    settings = StoreSettings()
    assert (settings.backend, settings.path, settings.redis_url) == ("sqlite", "var/sidecar.db", None)
    assert (settings.prefix, settings.timeout_seconds, settings.audit_cap) == ("mcp-sidecar:", 2.0, 1_000_000)


def test_the_call_log_cap_defaults_by_backend_and_can_be_set() -> None:
    redis = StoreSettings(backend="redis", redis_url="redis://127.0.0.1:6379/0")
    assert (StoreSettings(backend="memory").audit_cap, redis.audit_cap) == (100_000, 100_000)
    assert StoreSettings(audit_max_len=5).audit_cap == 5


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"backend": "redis"}, "needs redis_url"),
        ({"backend": "redis", "redis_url": ""}, "needs redis_url"),
        ({"backend": "postgres"}, "backend"),
        ({"pth": "x.db"}, "pth"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"prefix": ""}, "prefix"),
        ({"audit_max_len": 0}, "audit_max_len"),
    ],
)
def test_invalid_settings_are_refused(fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError, match=problem):
        StoreSettings(**fields)


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379/0", "rediss://cache.internal:6380", "unix:///run/redis.sock"]
)
def test_redis_urls_are_accepted(url: str) -> None:
    assert StoreSettings(backend="redis", redis_url=url).redis_url == url


def test_redis_url_stays_out_of_repr() -> None:
    settings = StoreSettings(backend="redis", redis_url="redis://:hunter2@127.0.0.1:6379/0")
    assert "hunter2" not in repr(settings)


def test_settings_are_frozen() -> None:
    settings = StoreSettings()
    with pytest.raises(ValidationError):
        settings.backend = "memory"
