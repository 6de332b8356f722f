"""The demo site's state, and the hooks tests use to observe and steer it.

One `DemoSite` is one WordPress install: users, posts, the site title, MCP sessions, plus
counters of what reached it (so a test can prove a refused call never got here) and a log
of the headers every request carried (so a test can prove no client credential leaked).
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from proxy.demo.abilities import DEMO_ABILITIES, Ability
from proxy.demo.sessions import McpSessionStore
from proxy.demo.users import AppPassword, DemoUser, default_users, parse_basic_auth

__all__ = ["DemoPost", "DemoSite", "RecordedRequest"]


@dataclass(slots=True)
class DemoPost:
    id: int
    title: str
    content: str
    author: int
    date: str
    status: str = "publish"

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "content": self.content,
            "status": self.status,
            "author": self.author,
            "link": f"/?p={self.id}",
        }


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """What arrived: method, path, query and headers (lower-cased names, repeats joined)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]


class DemoSite:
    """State and test hooks of one demo WordPress site."""

    def __init__(self, *, title: str = "WP MCP Demo", environment_type: str = "production") -> None:
        """`environment_type` is WordPress's `WP_ENVIRONMENT_TYPE`: "local" lets Application Password
        approvals redirect to any plain-http URL, the others only to https or loopback addresses."""
        self._initial_title = title
        self.environment_type = environment_type
        self.reset()

    def reset(self) -> None:
        """Back to the freshly installed site: users, posts, title, sessions, counters."""
        self.title = self._initial_title
        self.tagline = "A WordPress-shaped upstream for the MCP sidecar"
        self.users: dict[str, DemoUser] = {user.login: user for user in default_users()}
        self.abilities: dict[str, Ability] = {ability.name: ability for ability in DEMO_ABILITIES}
        self.posts: dict[int, DemoPost] = {}
        self.sessions = McpSessionStore()
        self.login_sessions: dict[str, str] = {}
        """Browser logins (`wp-login.php`): session token of the logged-in cookie -> login."""
        self.secret = secrets.token_bytes(32)
        """What nonces are keyed with (WordPress's NONCE_KEY and salt)."""
        self.calls: Counter[str] = Counter()
        """MCP messages received, by JSON-RPC method (notifications included)."""
        self.tool_calls: Counter[tuple[str, str | None]] = Counter()
        """`tools/call` received, by (tool, target ability or None)."""
        self.ability_runs: Counter[str] = Counter()
        """Abilities actually executed, over MCP or REST."""
        self.requests: list[RecordedRequest] = []
        self.removed_namespaces: set[str] = set()
        """REST namespaces the `/wp-json/` index no longer lists (a plugin deactivated or renamed)."""
        self.add_post(title="Hello world!", content="Welcome to the demo site.", author=1)
        self.add_post(title="About MCP", content="Agents reach this site through the sidecar.", author=2)

    # -- content -------------------------------------------------------------------------

    def add_post(self, *, title: str, content: str, author: int) -> DemoPost:
        post_id = max(self.posts, default=0) + 1
        date = datetime.now(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%S")
        post = DemoPost(id=post_id, title=title, content=content, author=author, date=date)
        self.posts[post_id] = post
        return post

    def user_by_id(self, user_id: int) -> DemoUser | None:
        return next((user for user in self.users.values() if user.id == user_id), None)

    # -- authentication ------------------------------------------------------------------

    def authenticate(self, authorization: str | None) -> tuple[DemoUser, AppPassword] | None:
        """The user an `Authorization` header logs in, with the Application Password it used, or None.

        Only Application Passwords over Basic auth log in; a Bearer token, an unknown login
        or a wrong password all leave the request anonymous, which is what a real site was
        observed to answer on the MCP route (the same 401 as no credentials at all).
        """
        credentials = parse_basic_auth(authorization)
        if credentials is None:
            return None
        login, password = credentials
        user = self.users.get(login)
        app_password = user.app_password_for(password) if user is not None else None
        return None if user is None or app_password is None else (user, app_password)

    # -- hooks for tests -----------------------------------------------------------------

    def set_capabilities(self, login: str, capabilities: Iterable[str]) -> None:
        """Replace a user's capabilities (role names stay reported as keys)."""
        self.users[login].set_caps(capabilities)

    def grant(self, login: str, capability: str) -> None:
        self.users[login].caps.add(capability)

    def revoke(self, login: str, capability: str) -> None:
        self.users[login].caps.discard(capability)

    def revoke_app_password(self, login: str) -> None:
        """Basic auth with any of this user's Application Passwords is refused from now on."""
        self.users[login].app_passwords.clear()

    def app_passwords(self, login: str) -> list[AppPassword]:
        """The user's Application Passwords, oldest first (the one made at install included)."""
        return list(self.users[login].app_passwords)

    def record(self, request: RecordedRequest) -> None:
        self.requests.append(request)

    def header_values(self, name: str) -> list[str]:
        """Every value of header `name` that reached the site, in order."""
        key = name.lower()
        return [request.headers[key] for request in self.requests if key in request.headers]

    def reset_counters(self) -> None:
        self.calls.clear()
        self.tool_calls.clear()
        self.ability_runs.clear()
        self.requests.clear()
