"""The site manifest: its shape, and bytes (hence ETag) that depend only on its content."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from proxy.discovery.canonical import canonical_json
from proxy.discovery.manifest import (
    AnonymousAccess,
    ManifestInput,
    OAuthAdvert,
    ToolsetEntry,
    build_manifest,
    manifest_representation,
)
from proxy.discovery.oauth_metadata import as_metadata_url, prm_url

BASE = "http://localhost:8080"
MCP_PATH = "/wp-json/mcp/mcp-adapter-default-server"
OAUTH = OAuthAdvert(
    protected_resource_metadata=prm_url(BASE, MCP_PATH),
    authorization_server_metadata=as_metadata_url(BASE),
    token_endpoint=f"{BASE}/oauth/token",
    grant_types=("refresh_token", "authorization_code", "client_credentials"),
)


def make_input(**changes: Any) -> ManifestInput:
    fields: dict[str, Any] = {
        "site_name": "Example Blog",
        "base_url": BASE,
        "mcp_path": MCP_PATH,
        "description": "Posts and pages of the example blog",
        "documentation_url": "https://example.com/agents",
        "oauth": OAUTH,
        "scopes": {"content:write": "Create and edit posts", "content:read": "Read posts and pages"},
        "toolsets": (
            ToolsetEntry("media", "Upload and list media", enabled=False),
            ToolsetEntry("content", "Posts and pages", enabled=True),
        ),
        "anonymous": AnonymousAccess(
            tools=frozenset({"mcp-adapter-discover-abilities"}),
            abilities=frozenset({"site/search", "core/get-site-info"}),
        ),
    }
    fields.update(changes)
    return ManifestInput(**fields)


def test_shape() -> None:
    assert build_manifest(make_input()) == {
        "manifest_version": 1,
        "name": "Example Blog",
        "description": "Posts and pages of the example blog",
        "documentation_url": "https://example.com/agents",
        "mcp": {
            "url": "http://localhost:8080/wp-json/mcp/mcp-adapter-default-server",
            "transport": "streamable-http",
            "protocol_versions": ["2025-11-25", "2025-06-18", "2024-11-05"],
        },
        "authentication": [
            {"type": "api_key", "in": "header", "name": "X-API-Key"},
            {
                "type": "oauth2",
                "protected_resource_metadata": (
                    "http://localhost:8080/.well-known/oauth-protected-resource"
                    "/wp-json/mcp/mcp-adapter-default-server"
                ),
                "authorization_server_metadata": "http://localhost:8080/.well-known/oauth-authorization-server",
                "token_endpoint": "http://localhost:8080/oauth/token",
                "grant_types": ["authorization_code", "client_credentials", "refresh_token"],
            },
        ],
        "scopes": [
            {"name": "content:read", "description": "Read posts and pages"},
            {"name": "content:write", "description": "Create and edit posts"},
        ],
        "toolsets": [
            {"name": "content", "description": "Posts and pages", "enabled": True},
            {"name": "media", "description": "Upload and list media", "enabled": False},
        ],
        "anonymous": {
            "tools": ["mcp-adapter-discover-abilities"],
            "abilities": ["core/get-site-info", "site/search"],
            "commands": [],
        },
    }


def test_minimal_input_refuses_anonymous_and_offers_api_keys_only() -> None:
    document = build_manifest(ManifestInput(site_name="s", base_url=BASE, mcp_path=MCP_PATH))
    assert document["anonymous"] is None
    assert document["authentication"] == [{"type": "api_key", "in": "header", "name": "X-API-Key"}]
    assert (document["scopes"], document["toolsets"]) == ([], [])
    assert "description" not in document
    assert "documentation_url" not in document


def test_no_authentication_methods() -> None:
    document = build_manifest(make_input(api_key_header=None, oauth=None))
    assert document["authentication"] == []


def test_the_endpoint_url_is_canonical_and_keeps_a_sub_directory_prefix() -> None:
    document = build_manifest(make_input(base_url="HTTPS://Example.COM/blog/"))
    assert document["mcp"]["url"] == "https://example.com/blog/wp-json/mcp/mcp-adapter-default-server"


def test_bytes_are_canonical_json() -> None:
    rep = manifest_representation(make_input(), last_modified=0)
    assert rep.content_type == "application/json"
    assert rep.body == canonical_json(json.loads(rep.body))
    assert rep.body.startswith(b'{"anonymous":{"abilities":["core/get-site-info","site/search"],')


def _reordered() -> ManifestInput:
    original = make_input()
    return make_input(
        scopes=dict(reversed(list(original.scopes.items()))),
        toolsets=tuple(reversed(original.toolsets)),
        anonymous=AnonymousAccess(
            abilities=frozenset(["site/search", "core/get-site-info"]),
            tools=frozenset(["mcp-adapter-discover-abilities"]),
        ),
        oauth=dataclasses.replace(OAUTH, grant_types=tuple(sorted(OAUTH.grant_types))),
    )


def test_same_content_same_bytes_and_etag_whatever_the_order() -> None:
    first = manifest_representation(make_input(), last_modified=1)
    again = manifest_representation(make_input(), last_modified=2)
    reordered = manifest_representation(_reordered(), last_modified=3)
    assert first.body == again.body == reordered.body
    assert first.etag == again.etag == reordered.etag


ROOT = Path(__file__).resolve().parents[2]
_ETAG_IN_A_FRESH_PROCESS = """
from tests.discovery.test_manifest import make_input
from proxy.discovery.manifest import manifest_representation
print(manifest_representation(make_input(), last_modified=0).etag)
"""


def test_the_etag_survives_a_restart_with_another_hash_seed() -> None:
    """Sets iterate in a per-process order; the bytes must not depend on it."""
    expected = manifest_representation(make_input(), last_modified=0).etag
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", _ETAG_IN_A_FRESH_PROCESS],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert out.stdout.strip() == expected


@pytest.mark.parametrize(
    "changes",
    [
        {"site_name": "Another Blog"},
        {"description": None},
        {"documentation_url": "https://example.com/other"},
        {"base_url": "https://localhost:8080"},
        {"mcp_path": "/wp-json/mcp/other-server"},
        {"protocol_versions": ("2025-06-18", "2025-11-25", "2024-11-05")},  # preference order counts
        {"protocol_versions": ("2025-11-25", "2025-06-18", "2024-11-05", "2026-07-28")},
        {"api_key_header": None},
        {"oauth": None},
        {"oauth": dataclasses.replace(OAUTH, token_endpoint=f"{BASE}/token")},
        {"scopes": {"content:read": "Read posts and pages"}},
        {"scopes": {"content:read": "Read", "content:write": "Create and edit posts"}},
        {"toolsets": (ToolsetEntry("media", "Upload and list media", enabled=True),)},
        {
            "toolsets": (
                ToolsetEntry("media", "Upload and list media", enabled=True),
                ToolsetEntry("content", "Posts and pages", enabled=True),
            )
        },
        {"anonymous": None},
        {"anonymous": AnonymousAccess()},
        {"anonymous": AnonymousAccess(tools=frozenset({"mcp-adapter-discover-abilities"}))},
        {"anonymous": AnonymousAccess(commands=frozenset({"search"}))},
    ],
)
def test_different_content_different_etag(changes: dict[str, Any]) -> None:
    base = manifest_representation(make_input(), last_modified=0)
    changed = manifest_representation(make_input(**changes), last_modified=0)
    assert changed.etag != base.etag


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"base_url": "localhost:8080"}, "base_url"),
        ({"base_url": "ftp://example.com"}, "base_url"),
        ({"base_url": "http://example.com/?x=1"}, "base_url"),
        ({"base_url": "http://example.com/#top"}, "base_url"),
        ({"mcp_path": "wp-json/mcp"}, "mcp_path"),
        ({"protocol_versions": ()}, "protocol_versions"),
        ({"protocol_versions": ("2025-06-18", "2025-06-18")}, "protocol_versions"),
        ({"toolsets": (ToolsetEntry("a", "x", True), ToolsetEntry("a", "y", False))}, "toolset names"),
    ],
)
def test_invalid_input_is_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_input(**changes)
