"""Which document a path names, per site (root, sub-directory) and issuer, and which site a host-root
metadata URL belongs to."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.config import Config
from proxy.discovery.routes import document_kind, metadata_site
from proxy.runtime import Runtime, SiteRuntime
from tests.factories import make_config_data

MCP = "/wp-json/mcp/mcp-adapter-default-server"
PRM = "/.well-known/oauth-protected-resource"
AS = "/.well-known/oauth-authorization-server"


def _runtime(**top: Any) -> Runtime:
    data = make_config_data("http://127.0.0.1:9")
    data["sites"]["demo"]["public_url"] = "https://example.com"
    data["sites"]["blog"] = {
        "hosts": ["localhost", "blog.example"],
        "path_prefix": "/blog",
        "upstream": {"url": "http://127.0.0.1:9"},
    }
    data.update(top)
    return Runtime.compile(Config.model_validate(data))


RUNTIME = _runtime()


def _site(name: str, runtime: Runtime = RUNTIME) -> SiteRuntime:
    site = runtime.site_named(name)
    assert site is not None
    return site


@pytest.mark.parametrize(
    ("site", "path", "kind"),
    [
        ("demo", "/.well-known/mcp.json", "manifest"),
        ("demo", "/wp-json/mcp/discovery", "manifest"),
        ("demo", "/.well-known/jwks.json", "jwks"),
        ("demo", PRM + MCP, "prm"),
        ("demo", PRM, "prm"),
        ("demo", AS, "as"),
        ("demo", "/.well-known/acme-challenge/x", None),
        ("demo", "/.well-known/mcp.json/", None),
        ("demo", PRM + "/wp-json/mcp/other", None),
        ("demo", "/.well-known/openid-configuration", None),
        ("blog", "/blog/.well-known/mcp.json", "manifest"),
        ("blog", "/blog/wp-json/mcp/discovery", "manifest"),
        ("blog", "/blog/.well-known/jwks.json", "jwks"),
        ("blog", PRM + "/blog" + MCP, "prm"),  # at the host root, suffixed with the site's path
        ("blog", "/blog" + PRM + MCP, None),
        ("blog", "/blog/.well-known/acme-challenge/x", None),
    ],
)
def test_document_kind(site: str, path: str, kind: str | None) -> None:
    assert document_kind(path, _site(site), RUNTIME) == kind


def test_issuer_path_names_the_as_metadata_location() -> None:
    runtime = _runtime(issuer="https://auth.example/tenant")
    assert document_kind(AS + "/tenant", _site("demo", runtime), runtime) == "as"
    assert document_kind(AS, _site("demo", runtime), runtime) == "as"
    assert document_kind(AS + "/other", _site("demo", runtime), runtime) is None


def test_configured_fallback_routes_replace_the_default() -> None:
    runtime = _runtime(discovery={"fallback_routes": ["/agents/mcp.json"]})
    assert document_kind("/agents/mcp.json", _site("demo", runtime), runtime) == "manifest"
    assert document_kind("/blog/agents/mcp.json", _site("blog", runtime), runtime) == "manifest"
    assert document_kind("/wp-json/mcp/discovery", _site("demo", runtime), runtime) is None


@pytest.mark.parametrize(
    ("host", "path", "site"),
    [
        ("localhost", PRM + "/blog" + MCP, "blog"),
        ("blog.example", PRM + "/blog" + MCP, "blog"),  # no root site on this host at all
        ("localhost", PRM + MCP, "demo"),
        ("localhost", PRM + "/blog/wp-json/mcp/other", None),  # not a document: chosen as usual
        ("elsewhere.example", PRM + "/blog" + MCP, None),
        ("localhost", "/blog/.well-known/mcp.json", None),
    ],
)
def test_metadata_site(host: str, path: str, site: str | None) -> None:
    found = metadata_site(RUNTIME, host, path)
    assert (found.name if found else None) == site
