"""A small `WP_REST_Server`: route matching, JSON bodies, permission callbacks, REST errors.

Written by hand rather than with Starlette's router because WordPress matches REST routes
case-insensitively (`preg_match('@^' . $route . '$@i', ...)`), serves the same routes under
`/wp-json/<route>` and `?rest_route=<route>`, and answers a method a route lacks with
`rest_no_route` 404, not 405. A sidecar's bypass checks are only meaningful against that.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from proxy.demo.responses import RestError
from proxy.demo.users import AppPassword, DemoUser

if TYPE_CHECKING:
    from proxy.demo.site import DemoSite

__all__ = [
    "APP_PASSWORD_SCOPE_KEY",
    "USER_SCOPE_KEY",
    "RestCall",
    "RestRoute",
    "RestServer",
    "current_app_password",
    "current_user",
    "forbidden",
    "site_url",
]

USER_SCOPE_KEY = "wp.user"
"""ASGI scope key holding the logged-in `DemoUser` (or None), set by the auth middleware."""
APP_PASSWORD_SCOPE_KEY = "wp.app_password"  # noqa: S105 - a scope key, not a secret
"""ASGI scope key holding the `AppPassword` the user logged in with (or None)."""


def current_user(request: Request) -> DemoUser | None:
    user = request.scope.get(USER_SCOPE_KEY)
    return user if isinstance(user, DemoUser) else None


def current_app_password(request: Request) -> AppPassword | None:
    app_password = request.scope.get(APP_PASSWORD_SCOPE_KEY)
    return app_password if isinstance(app_password, AppPassword) else None


def site_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def forbidden(user: DemoUser | None) -> RestError:
    """`rest_forbidden`: 401 when nobody is logged in, 403 when someone is."""
    return RestError("rest_forbidden", "Sorry, you are not allowed to do that.", 401 if user is None else 403)


@dataclass(frozen=True, slots=True)
class RestCall:
    """Everything a route callback gets: the request, who is logged in, path params, JSON body."""

    request: Request
    server: RestServer
    user: DemoUser | None
    params: dict[str, str]
    body: Any

    @property
    def site(self) -> DemoSite:
        return self.server.site


Handler = Callable[[RestCall], Awaitable[Response]]
Permission = Callable[[DemoUser | None], bool]


@dataclass(frozen=True, slots=True)
class RestRoute:
    """`register_rest_route(namespace, route, {methods, callback, permission_callback})`."""

    namespace: str
    route: str
    methods: tuple[str, ...]
    handler: Handler
    permission: Permission | None = None
    pattern: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        full = f"/{self.namespace}{self.route}" if self.namespace else self.route
        object.__setattr__(self, "pattern", re.compile(full, re.IGNORECASE))

    @property
    def path(self) -> str:
        return self.pattern.pattern


class RestServer:
    """Dispatches one REST route (`/wp/v2/users/me`) to its callback, WordPress-style."""

    def __init__(self, site: DemoSite, routes: Sequence[RestRoute]) -> None:
        self.site = site
        self.routes = tuple(routes)

    async def serve(self, request: Request, route: str) -> Response:
        try:
            return await self._dispatch(request, route.rstrip("/") or "/")
        except RestError as error:
            return error.response()

    async def _dispatch(self, request: Request, path: str) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        for route in self.routes:
            match = route.pattern.fullmatch(path)
            if match is None or method not in route.methods:
                continue
            body = await _json_body(request)
            user = current_user(request)
            if route.permission is not None and not route.permission(user):
                raise forbidden(user)
            response = await route.handler(RestCall(request, self, user, match.groupdict(), body))
            response.headers.setdefault("Allow", ", ".join(route.methods))
            return response
        raise RestError("rest_no_route", "No route was found matching the URL and request method.", 404)


async def _json_body(request: Request) -> Any:
    """The parsed body of a JSON request, None otherwise; broken JSON is `rest_invalid_json`."""
    if "json" not in request.headers.get("content-type", "").lower():
        return None
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise RestError(
            "rest_invalid_json",
            "Invalid JSON body passed.",
            400,
            json_error_code=4,
            json_error_message="Syntax error",
        ) from None
