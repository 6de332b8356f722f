"""/.well-known/mcp.json over real sockets: what it says, where else it is served, per site, and when
it is not served at all (MCP switched off, site not entitled); other /.well-known paths reach WordPress."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from proxy.config import Config
from proxy.demo import RunningDemo
from proxy.discovery import build_manifest
from proxy.endpoints import discovery as discovery_endpoint
from proxy.rules import load_rules
from proxy.switches import GLOBAL_SWITCH, site_switch_key, toolset_switch_key
from tests.demo_upstream import demo_fixture
from tests.e2e.discovery_support import (
    AS_ROOT,
    DEMO_MCP_PATH,
    DOCUMENT_PATHS,
    JWKS,
    MANIFEST,
    PRM_ROOT,
    PRM_SUFFIXED,
    config_data,
    fetch,
    sidecar_at,
    site_config,
)
from tests.factories import RULES_DIR

pytestmark = pytest.mark.asyncio(loop_scope="module")

demo = demo_fixture()
PUBLIC = "https://blog.example"
RULES = load_rules(RULES_DIR / "tools.yaml", RULES_DIR / "toolsets.yaml")
META_TOOLS = ["mcp-adapter-discover-abilities", "mcp-adapter-execute-ability", "mcp-adapter-get-ability-info"]


async def test_manifest_tells_an_agent_where_and_how_to_connect(demo: RunningDemo) -> None:
    config = site_config(
        demo.url,
        public_url=PUBLIC,
        name="Example Blog",
        description="Posts about gardening",
        top={"discovery": {"documentation_url": "https://blog.example/agents"}},
    )
    async with sidecar_at(config) as sc:
        answer = await fetch(sc, MANIFEST)
        async with sc.http.post(sc.url + DEMO_MCP_PATH, json={}) as unauthenticated:
            challenge = unauthenticated.headers["WWW-Authenticate"]
    assert answer.status == 200
    assert answer.headers["Content-Type"] == "application/json"
    manifest = answer.json()
    assert manifest["name"] == "Example Blog"
    assert manifest["description"] == "Posts about gardening"
    assert manifest["documentation_url"] == "https://blog.example/agents"
    assert manifest["mcp"] == {
        "url": PUBLIC + DEMO_MCP_PATH,  # through the sidecar, never the upstream's address
        "transport": "streamable-http",
        "protocol_versions": ["2025-11-25", "2025-06-18", "2024-11-05"],
    }
    assert demo.url not in answer.body.decode()
    api_key, oauth = manifest["authentication"]
    assert api_key == {"type": "api_key", "in": "header", "name": "X-API-Key"}
    assert oauth["type"] == "oauth2"
    assert oauth["protected_resource_metadata"] == PUBLIC + PRM_SUFFIXED
    assert f'resource_metadata="{oauth["protected_resource_metadata"]}"' in challenge  # the same URL
    assert oauth["authorization_server_metadata"] == PUBLIC + AS_ROOT
    assert oauth["token_endpoint"] == PUBLIC + "/oauth/token"
    assert "client_credentials" in oauth["grant_types"]
    assert manifest["scopes"] == [
        {"name": name, "description": RULES.scopes[name]} for name in sorted(RULES.scopes)
    ]
    assert {entry["name"]: entry["enabled"] for entry in manifest["toolsets"]} == {
        "admin": False,
        "all": False,
        "content": True,
        "read-only": True,
    }
    assert all(entry["description"] for entry in manifest["toolsets"])
    assert manifest["anonymous"] is None  # anonymous callers are refused


async def test_anonymous_lists_exactly_what_an_anonymous_caller_can_use(demo: RunningDemo) -> None:
    demo.site.reset()
    anonymous = {"enabled": True, "wp_user": "subscriber"}
    async with sidecar_at(site_config(demo.url, anonymous=anonymous)) as sc:
        advertised = (await fetch(sc, MANIFEST)).json()["anonymous"]
        async with Client(sc.url + DEMO_MCP_PATH, mode="legacy") as client:  # no credentials at all
            tools = sorted(tool.name for tool in (await client.list_tools()).tools)
            found = await client.call_tool("mcp-adapter-discover-abilities", {})
    assert advertised == {"tools": META_TOOLS, "abilities": ["demo/get-post"], "commands": []}
    assert "demo/create-post" not in advertised["abilities"]  # a subscriber cannot edit posts
    assert tools == advertised["tools"]
    assert found.structured_content is not None
    assert [ability["name"] for ability in found.structured_content["abilities"]] == advertised["abilities"]


async def test_anonymous_list_follows_the_wordpress_users_capabilities(demo: RunningDemo) -> None:
    demo.site.reset()
    anonymous = {
        "enabled": True,
        "wp_user": "subscriber",
        "profile": "content",
        "scopes": ["mcp.read", "content.read", "content.write"],
    }
    config = site_config(demo.url, anonymous=anonymous, top={"capabilities": {"ttl_seconds": 0}})
    async with sidecar_at(config) as sc:
        before = await fetch(sc, MANIFEST)
        demo.site.grant("subscriber", "edit_posts")
        after = await fetch(sc, MANIFEST)
    demo.site.reset()
    assert before.json()["anonymous"]["abilities"] == ["demo/get-post"]  # scope alone grants nothing
    assert after.json()["anonymous"]["abilities"] == ["demo/create-post", "demo/get-post"]
    assert after.headers["ETag"] != before.headers["ETag"]


@pytest.mark.parametrize(
    "path",
    [
        "/wp-json/mcp/discovery",
        "/wp-json/MCP/Discovery/",
        "/wp-json//mcp/discovery",
        "/?rest_route=/mcp/discovery",
        "/index.php?rest_route=%2Fmcp%2Fdiscovery",
        "/index.php/wp-json/mcp/discovery",
        "/some/page?rest_route=/mcp/discovery",
    ],
)
async def test_fallback_route_serves_the_manifest_in_every_spelling(demo: RunningDemo, path: str) -> None:
    demo.site.reset_counters()
    async with sidecar_at(site_config(demo.url)) as sc:
        manifest = await fetch(sc, MANIFEST)
        fallback = await fetch(sc, path)
    assert fallback.status == 200
    assert fallback.body == manifest.body
    assert fallback.headers["ETag"] == manifest.headers["ETag"]
    # answered before the allowlist (which guards the whole /mcp namespace) and never forwarded
    assert [request.path for request in demo.site.requests] == ["/wp-json/"]  # the entitlement probe


async def test_configured_fallback_routes_replace_the_default(demo: RunningDemo) -> None:
    routes = ["/wp-json/acme/v1/agents", "/agents/mcp.json"]
    async with sidecar_at(site_config(demo.url, top={"discovery": {"fallback_routes": routes}})) as sc:
        manifest = await fetch(sc, MANIFEST)
        served = [await fetch(sc, path) for path in (*routes, "/?rest_route=/acme/v1/agents")]
        default = await fetch(sc, "/wp-json/mcp/discovery")
        posted = await fetch(sc, routes[0], method="POST")
    assert [answer.body for answer in served] == [manifest.body] * 3
    assert default.status == 404  # /mcp is guarded: an unlisted route there is refused
    assert posted.status == 405
    assert posted.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert posted.json()["error"]["code"] == "method_not_allowed"


async def test_each_site_has_its_own_manifest_and_metadata(demo: RunningDemo) -> None:
    data = config_data(demo.url, public_url="https://a.example", name="Site A")
    data["sites"]["b"] = {
        **data["sites"]["demo"],
        "hosts": ["b.example"],
        "public_url": "https://b.example",
        "name": "Site B",
        "mcp_path": "/wp-json/mcp/b-server",
        "toolsets": ["read-only"],
    }
    data["sites"]["blog"] = {
        **data["sites"]["demo"],
        "hosts": ["c.example"],
        "path_prefix": "/blog",
        "public_url": "https://c.example/blog",
        "name": "Blog",
        "entitlement": {"source": "static", "require_namespace": None},  # the demo has no /blog
    }
    async with sidecar_at(Config.model_validate(data)) as sc:
        a = await fetch(sc, MANIFEST)
        b = await fetch(sc, MANIFEST, headers={"Host": "b.example"})
        blog = await fetch(sc, "/blog" + MANIFEST, headers={"Host": "c.example"})
        prm_b = await fetch(sc, PRM_ROOT + "/wp-json/mcp/b-server", headers={"Host": "b.example"})
        # RFC 9728 puts a sub-directory site's metadata at the host root, suffixed with its path
        prm_blog = await fetch(sc, PRM_ROOT + "/blog" + DEMO_MCP_PATH, headers={"Host": "c.example"})
        as_b = await fetch(sc, AS_ROOT, headers={"Host": "b.example"})
        jwks_blog = await fetch(sc, "/blog" + JWKS, headers={"Host": "c.example"})
    assert a.status == b.status == blog.status == 200
    assert len({a.headers["ETag"], b.headers["ETag"], blog.headers["ETag"]}) == 3
    assert (a.json()["name"], b.json()["name"], blog.json()["name"]) == ("Site A", "Site B", "Blog")
    assert b.json()["mcp"]["url"] == "https://b.example/wp-json/mcp/b-server"
    assert blog.json()["mcp"]["url"] == "https://c.example/blog" + DEMO_MCP_PATH
    assert [t["name"] for t in b.json()["toolsets"] if t["enabled"]] == ["read-only"]
    assert prm_b.json()["resource"] == "https://b.example/wp-json/mcp/b-server"
    assert prm_blog.json()["resource"] == "https://c.example/blog" + DEMO_MCP_PATH
    assert blog.json()["authentication"][1]["protected_resource_metadata"] == (
        "https://c.example" + PRM_ROOT + "/blog" + DEMO_MCP_PATH
    )
    # one issuer for the whole sidecar: the first site's public URL
    assert (
        prm_b.json()["authorization_servers"]
        == prm_blog.json()["authorization_servers"]
        == ["https://a.example"]
    )
    assert as_b.json()["issuer"] == "https://a.example"
    assert jwks_blog.status == 200
    assert jwks_blog.json()["keys"]


async def _all_documents(sc: Any) -> list[int]:
    return [(await fetch(sc, path)).status for path in DOCUMENT_PATHS]


async def test_everything_is_404_while_mcp_is_switched_off(demo: RunningDemo) -> None:
    async with sidecar_at(site_config(demo.url)) as sc:
        store, switches = sc.sidecar.services.store, sc.sidecar.services.switches
        assert await _all_documents(sc) == [200] * len(DOCUMENT_PATHS)
        every_toolset_off = {toolset_switch_key("demo", name): False for name in RULES.toolsets}
        for switched in ({GLOBAL_SWITCH: False}, {site_switch_key("demo"): False}, every_toolset_off):
            for key, value in switched.items():
                await store.set_setting(key, value)
            await switches.refresh()
            assert await _all_documents(sc) == [404] * len(DOCUMENT_PATHS), switched
            for key in switched:
                await store.set_setting(key, None)
            await switches.refresh()
        assert await _all_documents(sc) == [200] * len(DOCUMENT_PATHS)


@pytest.mark.parametrize(
    ("top", "site"),
    [
        ({"mcp_enabled": False}, {}),
        ({}, {"enabled": False}),
        ({}, {"entitlement": {"source": "static", "entitled": False}}),
    ],
    ids=["global-switch", "site-switch", "not-entitled"],
)
async def test_disabled_by_config_hides_every_document_but_not_the_site(
    demo: RunningDemo, top: dict[str, Any], site: dict[str, Any]
) -> None:
    demo.site.reset_counters()
    async with sidecar_at(site_config(demo.url, top=top, **site)) as sc:
        statuses = await _all_documents(sc)
        head = await fetch(sc, MANIFEST, method="HEAD")
        acme = await fetch(sc, "/.well-known/acme-challenge/token-123")
    assert statuses == [404] * len(DOCUMENT_PATHS)
    assert head.status == 404
    assert acme.status == 404
    assert b"Page not found" in acme.body  # WordPress's own answer: the challenge path reached it
    assert "/.well-known/acme-challenge/token-123" in [request.path for request in demo.site.requests]


@pytest.mark.parametrize(
    "path",
    [
        "/.well-known/acme-challenge/token-123",
        "/.well-known/security.txt",
        "/.well-known/mcp.json/extra",
        PRM_ROOT + "/wp-json/mcp/other-server",
        "/.well-known/openid-configuration",
    ],
)
async def test_other_well_known_paths_reach_wordpress(demo: RunningDemo, path: str) -> None:
    demo.site.reset_counters()
    async with sidecar_at(site_config(demo.url)) as sc:
        answer = await fetch(sc, path)
    assert answer.status == 404
    assert b"Page not found" in answer.body
    assert [request.path for request in demo.site.requests] == [path]


async def test_a_polling_client_does_not_rebuild_the_manifest(
    demo: RunningDemo, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[str] = []

    def counting_build(manifest: Any) -> dict[str, Any]:
        built.append(manifest.site_name)
        return build_manifest(manifest)

    monkeypatch.setattr(discovery_endpoint, "build_manifest", counting_build)
    anonymous = {"enabled": True, "wp_user": "subscriber"}
    async with sidecar_at(site_config(demo.url, anonymous=anonymous)) as sc:
        first = await fetch(sc, MANIFEST)
        polls = [
            await fetch(sc, MANIFEST, headers={"If-None-Match": first.headers["ETag"]}) for _ in range(20)
        ]
        assert len(built) == 1
        await sc.sidecar.services.store.set_setting(toolset_switch_key("demo", "content"), False)
        await sc.sidecar.services.switches.refresh()
        changed = await fetch(sc, MANIFEST, headers={"If-None-Match": first.headers["ETag"]})
        again = await fetch(sc, MANIFEST, headers={"If-None-Match": changed.headers["ETag"]})
    assert {poll.status for poll in polls} == {304}
    assert (changed.status, again.status) == (200, 304)
    assert len(built) == 2
