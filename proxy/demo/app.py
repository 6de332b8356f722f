"""The demo site as one ASGI app: front page, `/wp-json/...`, `?rest_route=...`, MCP, and the login and
Application Password authorization pages."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from proxy.demo.abilities_routes import abilities_routes
from proxy.demo.admin_pages import admin_routes
from proxy.demo.app_passwords_routes import app_passwords_routes
from proxy.demo.core_routes import core_routes
from proxy.demo.mcp_server import build_mcp_server
from proxy.demo.rest_server import APP_PASSWORD_SCOPE_KEY, USER_SCOPE_KEY, RestServer, site_url
from proxy.demo.site import DemoSite, RecordedRequest
from proxy.demo.transport import McpTransport

__all__ = ["DEMO_MCP_PATH", "build_demo_app"]

DEMO_MCP_PATH = "/wp-json/mcp/mcp-adapter-default-server"
_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class LoginMiddleware:
    """Remembers what each request carried, then logs its user in (or not) for everything after."""

    def __init__(self, app: ASGIApp, *, site: DemoSite) -> None:
        self.app = app
        self.site = site

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        recorded = {name: ", ".join(headers.getlist(name)) for name in headers}
        query = scope["query_string"].decode("latin-1")
        self.site.record(RecordedRequest(scope["method"], scope["path"], query, recorded))
        login = self.site.authenticate(headers.get("authorization"))
        user, app_password = login if login is not None else (None, None)
        await self.app({**scope, USER_SCOPE_KEY: user, APP_PASSWORD_SCOPE_KEY: app_password}, receive, send)


def _page(title: str, body: str, base: str, *, status: int = 200) -> HTMLResponse:
    api = f"{base}/wp-json/"
    document = (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="UTF-8"><title>{title}</title>'
        f'<link rel="https://api.w.org/" href="{api}"></head><body>{body}</body></html>\n'
    )
    return HTMLResponse(document, status_code=status, headers={"Link": f'<{api}>; rel="https://api.w.org/"'})


def _home(site: DemoSite, request: Request) -> Response:
    posts = "".join(
        f'<li><a href="/?p={post.id}">{html.escape(post.title)}</a></li>'
        for post in sorted(site.posts.values(), key=lambda p: p.id, reverse=True)
    )
    title = html.escape(site.title)
    body = f"<h1>{title}</h1><p>{html.escape(site.tagline)}</p><ul>{posts}</ul>"
    return _page(title, body, site_url(request))


async def _not_found(request: Request, exc: Exception) -> Response:
    return _page("Page not found", "<h1>Not found</h1>", site_url(request), status=404)


def build_demo_app(site: DemoSite) -> Starlette:
    """A fresh app over `site`; each app may be served once (it owns the SDK's task group)."""
    transport = McpTransport(site, build_mcp_server(site))
    rest = RestServer(site, [*core_routes(), *app_passwords_routes(), transport.route(), *abilities_routes()])

    async def wp_json(request: Request) -> Response:
        return await rest.serve(request, "/" + request.path_params.get("route", ""))

    async def front(request: Request) -> Response:
        rest_route = request.query_params.get("rest_route")
        if rest_route is not None:
            return await rest.serve(request, rest_route)
        return _home(site, request)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with transport.run():
            yield

    return Starlette(
        routes=[
            Route("/", front, methods=_ALL_METHODS),
            Route("/index.php", front, methods=_ALL_METHODS),
            Route("/wp-json", wp_json, methods=_ALL_METHODS),
            Route("/wp-json/{route:path}", wp_json, methods=_ALL_METHODS),
            *admin_routes(site),
        ],
        middleware=[Middleware(LoginMiddleware, site=site)],
        exception_handlers={404: _not_found},
        lifespan=lifespan,
    )
