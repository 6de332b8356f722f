"""Core REST routes over HTTP: index, users/me, posts, REST errors, `?rest_route=`."""

from __future__ import annotations

import pytest

from tests.demo.wp_client import WpClient, basic

pytestmark = pytest.mark.asyncio(loop_scope="module")

NAMESPACES = ["oembed/1.0", "mcp", "wp/v2", "wp-site-health/v1", "wp-block-editor/v1", "wp-abilities/v1"]


@pytest.mark.parametrize("path", ["/wp-json/", "/wp-json", "/?rest_route=/", "/index.php?rest_route=/"])
async def test_index_lists_namespaces_and_application_passwords(wp: WpClient, path: str) -> None:
    reply = await wp.request("GET", path)
    assert reply.status == 200
    assert reply.headers["Content-Type"] == "application/json; charset=UTF-8"
    index = reply.json
    assert index["name"] == "WP MCP Demo"
    assert index["url"] == wp.demo.url
    assert index["namespaces"] == NAMESPACES
    authorization = index["authentication"]["application-passwords"]["endpoints"]["authorization"]
    assert authorization == wp.demo.url + "/wp-admin/authorize-application.php"
    assert "/mcp/mcp-adapter-default-server" in index["routes"]


async def test_json_escapes_slashes_like_php(wp: WpClient) -> None:
    reply = await wp.request("GET", "/wp-json/")
    assert b'"oembed\\/1.0"' in reply.raw


@pytest.mark.parametrize(
    ("login", "roles", "has", "lacks"),
    [
        ("admin", ["administrator"], ["manage_options", "edit_posts", "list_users", "administrator"], []),
        (
            "editor",
            ["editor"],
            ["edit_posts", "publish_posts", "edit_others_posts", "editor"],
            ["manage_options"],
        ),
        ("subscriber", ["subscriber"], ["read", "level_0", "subscriber"], ["edit_posts"]),
    ],
)
async def test_users_me_edit_context(
    wp: WpClient, login: str, roles: list[str], has: list[str], lacks: list[str]
) -> None:
    reply = await wp.request("GET", "/wp-json/wp/v2/users/me?context=edit", login=login)
    assert reply.status == 200
    me = reply.json
    assert (me["slug"], me["username"], me["roles"]) == (login, login, roles)
    assert all(me["capabilities"][cap] is True for cap in has)
    assert not any(cap in me["capabilities"] for cap in lacks)
    if login == "subscriber":
        assert me["capabilities"] == {"read": True, "level_0": True, "subscriber": True}


async def test_users_me_view_context_hides_roles(wp: WpClient) -> None:
    reply = await wp.request("GET", "/?rest_route=/wp/v2/users/me", login="editor")
    assert reply.status == 200
    assert reply.json["id"] == 2
    assert "roles" not in reply.json
    assert "capabilities" not in reply.json


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        basic("admin", "wrong wrong wrong"),
        basic("admin", "EdtR 4kW8 Np2x Qm7v Hs5j Cd9f"),
        basic("nobody", "AdmN 7pQ2 Lx9c Vb4k Rt6w Zy3m"),
        "Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig",
    ],
)
async def test_users_me_without_a_valid_application_password(wp: WpClient, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    reply = await wp.request("GET", "/wp-json/wp/v2/users/me?context=edit", headers=headers)
    assert reply.status == 401
    assert "WWW-Authenticate" not in reply.headers
    assert reply.json == {
        "code": "rest_not_logged_in",
        "message": "You are not currently logged in.",
        "data": {"status": 401},
    }


async def test_password_without_spaces_logs_in(wp: WpClient) -> None:
    headers = {"Authorization": basic("admin", "AdmN7pQ2Lx9cVb4kRt6wZy3m")}
    reply = await wp.request("GET", "/wp-json/wp/v2/users/me", headers=headers)
    assert reply.status == 200


async def test_revoked_application_password_is_refused(wp: WpClient) -> None:
    assert (await wp.request("GET", "/wp-json/wp/v2/users/me", login="editor")).status == 200
    wp.demo.site.revoke_app_password("editor")
    assert (await wp.request("GET", "/wp-json/wp/v2/users/me", login="editor")).status == 401


async def test_capability_hooks_show_in_users_me(wp: WpClient) -> None:
    site = wp.demo.site
    site.grant("subscriber", "edit_posts")
    caps = (await wp.request("GET", "/wp-json/wp/v2/users/me?context=edit", login="subscriber")).json[
        "capabilities"
    ]
    assert caps["edit_posts"] is True
    site.revoke("subscriber", "edit_posts")
    site.set_capabilities("editor", ["read"])
    caps = (await wp.request("GET", "/wp-json/wp/v2/users/me?context=edit", login="editor")).json[
        "capabilities"
    ]
    assert caps == {"read": True, "editor": True}


async def test_posts_list_and_single(wp: WpClient) -> None:
    reply = await wp.request("GET", "/wp-json/wp/v2/posts")
    assert reply.status == 200
    assert reply.headers["X-WP-Total"] == "2"
    posts = reply.json
    assert [post["title"]["rendered"] for post in posts] == ["About MCP", "Hello world!"]
    single = await wp.request("GET", f"/?rest_route=/wp/v2/posts/{posts[0]['id']}")
    assert single.status == 200
    assert single.json["content"]["rendered"].startswith("<p>Agents reach")


async def test_unknown_post(wp: WpClient) -> None:
    reply = await wp.request("GET", "/wp-json/wp/v2/posts/999")
    assert reply.status == 404
    assert reply.json["code"] == "rest_post_invalid_id"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/wp-json/wp/v2/nothing-here"),
        ("GET", "/?rest_route=/nope/v1/x"),
        ("POST", "/wp-json/wp/v2/users/me"),
        ("PUT", "/wp-json/mcp/mcp-adapter-default-server"),
        ("GET", "/wp-json//wp/v2/posts"),
    ],
)
async def test_unknown_route_or_method_is_rest_no_route(wp: WpClient, method: str, path: str) -> None:
    reply = await wp.request(method, path, login="admin")
    assert reply.status == 404
    assert reply.json == {
        "code": "rest_no_route",
        "message": "No route was found matching the URL and request method.",
        "data": {"status": 404},
    }


async def test_routes_match_case_insensitively_like_wordpress(wp: WpClient) -> None:
    reply = await wp.request("GET", "/wp-json/WP/V2/Users/Me/", login="admin")
    assert reply.status == 200
    assert reply.json["slug"] == "admin"
