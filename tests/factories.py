"""Shared test factories: configs pointing at a test upstream, and a running sidecar."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from proxy.config import Config

TEST_PEPPER = "test-pepper-0123456789abcdef"
TEST_SESSION_KEY = base64.b64encode(bytes(range(32))).decode()
RULES_DIR = Path(__file__).resolve().parent.parent / "rules"


def make_config_data(upstream_url: str, **site_overrides: Any) -> dict[str, Any]:
    """A minimal valid config as a dict: one site 'demo' on localhost/127.0.0.1."""
    site: dict[str, Any] = {
        "hosts": ["localhost", "127.0.0.1"],
        "upstream": {"url": upstream_url},
    }
    site.update(site_overrides)
    return {
        "listen": {"host": "127.0.0.1", "port": 0},
        "ops": {"host": "127.0.0.1", "port": 0},
        "secrets": {"key_pepper": TEST_PEPPER, "session_keys": [TEST_SESSION_KEY]},
        "store": {"backend": "memory"},
        "rules": {"tools": str(RULES_DIR / "tools.yaml"), "toolsets": str(RULES_DIR / "toolsets.yaml")},
        "sites": {"demo": site},
    }


def make_config(upstream_url: str, *, top: dict[str, Any] | None = None, **site_overrides: Any) -> Config:
    data = make_config_data(upstream_url, **site_overrides)
    data.update(top or {})
    return Config.model_validate(data)
