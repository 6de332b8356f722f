"""Core REST routes: the `/wp-json/` index, `wp/v2/users/me`, `wp/v2/posts`."""

from __future__ import annotations

import html
import math
import re
from typing import Any

from proxy.demo.responses import RestError, WPJSONResponse
from proxy.demo.rest_server import RestCall, RestRoute, site_url
from proxy.demo.site import DemoPost
from proxy.demo.users import DemoUser

__all__ = ["NAMESPACES", "core_routes"]

NAMESPACES = ["oembed/1.0", "mcp", "wp/v2", "wp-site-health/v1", "wp-block-editor/v1", "wp-abilities/v1"]
"""What the observed WordPress 7.1 + mcp-adapter 0.5.0 site lists, in its order."""


async def _index(call: RestCall) -> WPJSONResponse:
    base = site_url(call.request)
    routes = {
        route.path: {
            "namespace": route.namespace,
            "methods": list(route.methods),
            "endpoints": [{"methods": list(route.methods), "args": {}}],
        }
        for route in call.server.routes
    }
    return WPJSONResponse(
        {
            "name": call.site.title,
            "description": call.site.tagline,
            "url": base,
            "home": base,
            "gmt_offset": "0",
            "timezone_string": "",
            "namespaces": [ns for ns in NAMESPACES if ns not in call.site.removed_namespaces],
            "authentication": {
                "application-passwords": {
                    "endpoints": {"authorization": f"{base}/wp-admin/authorize-application.php"}
                }
            },
            "routes": routes,
            "site_logo": 0,
            "site_icon": 0,
            "site_icon_url": "",
            "_links": {"help": [{"href": "https://developer.wordpress.org/rest-api/"}]},
        }
    )


def _user_json(user: DemoUser, base: str, *, edit: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": user.id,
        "name": user.display_name,
        "url": "",
        "description": "",
        "link": f"{base}/author/{user.login}/",
        "slug": user.login,
        "avatar_urls": {},
        "meta": [],
    }
    if edit:
        first, _, last = user.display_name.partition(" ")
        body |= {
            "username": user.login,
            "first_name": first,
            "last_name": last,
            "email": user.email,
            "locale": "en_US",
            "nickname": user.login,
            "roles": list(user.roles),
            "registered_date": user.registered,
            "capabilities": user.all_caps,
            "extra_capabilities": dict.fromkeys(user.roles, True),
        }
    return body


async def _users_me(call: RestCall) -> WPJSONResponse:
    if call.user is None:
        raise RestError("rest_not_logged_in", "You are not currently logged in.", 401)
    context = call.request.query_params.get("context", "view")
    if context not in ("view", "embed", "edit"):
        raise RestError(
            "rest_invalid_param", "Invalid parameter(s): context", 400, params={"context": context}
        )
    return WPJSONResponse(_user_json(call.user, site_url(call.request), edit=context == "edit"))


def _post_json(post: DemoPost, base: str) -> dict[str, Any]:
    link = f"{base}/?p={post.id}"
    return {
        "id": post.id,
        "date": post.date,
        "date_gmt": post.date,
        "guid": {"rendered": link},
        "modified": post.date,
        "modified_gmt": post.date,
        "slug": re.sub(r"[^a-z0-9]+", "-", post.title.lower()).strip("-"),
        "status": post.status,
        "type": "post",
        "link": link,
        "title": {"rendered": html.escape(post.title)},
        "content": {"rendered": f"<p>{post.content}</p>\n", "protected": False},
        "excerpt": {"rendered": f"<p>{html.escape(post.content[:55])}</p>\n", "protected": False},
        "author": post.author,
    }


async def _posts(call: RestCall) -> WPJSONResponse:
    published = [post for post in call.site.posts.values() if post.status == "publish"]
    published.sort(key=lambda post: post.id, reverse=True)
    base = site_url(call.request)
    headers = {"X-WP-Total": str(len(published)), "X-WP-TotalPages": str(math.ceil(len(published) / 10))}
    return WPJSONResponse([_post_json(post, base) for post in published[:10]], headers=headers)


async def _post(call: RestCall) -> WPJSONResponse:
    post = call.site.posts.get(int(call.params["id"]))
    if post is None or post.status != "publish":
        raise RestError("rest_post_invalid_id", "Invalid post ID.", 404)
    return WPJSONResponse(_post_json(post, site_url(call.request)))


def core_routes() -> list[RestRoute]:
    return [
        RestRoute("", "/", ("GET",), _index),
        RestRoute("wp/v2", "/users/me", ("GET",), _users_me),
        RestRoute("wp/v2", "/posts", ("GET",), _posts),
        RestRoute("wp/v2", r"/posts/(?P<id>[\d]+)", ("GET",), _post),
    ]
