"""WordPress users, roles and Application Passwords, as the demo site knows them.

Capabilities follow WordPress's default roles so that a sidecar reading
`users/me?context=edit` sees what it would see on a real site.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = [
    "DEMO_APP_PASSWORDS",
    "ROLE_CAPABILITIES",
    "DemoUser",
    "default_users",
    "normalize_app_password",
    "parse_basic_auth",
]

DEMO_APP_PASSWORDS: dict[str, str] = {
    "admin": "AdmN 7pQ2 Lx9c Vb4k Rt6w Zy3m",
    "editor": "EdtR 4kW8 Np2x Qm7v Hs5j Cd9f",
    "subscriber": "SubS 3hK6 Wq8z Lp4n Fv2r Tg7y",
}

_SUBSCRIBER = ("read", "level_0")
_EDITOR = (
    *_SUBSCRIBER,
    *(f"level_{n}" for n in range(1, 8)),
    "moderate_comments",
    "manage_categories",
    "manage_links",
    "upload_files",
    "unfiltered_html",
    "edit_posts",
    "edit_others_posts",
    "edit_published_posts",
    "publish_posts",
    "edit_pages",
    "edit_others_pages",
    "edit_published_pages",
    "publish_pages",
    "delete_pages",
    "delete_others_pages",
    "delete_published_pages",
    "delete_posts",
    "delete_others_posts",
    "delete_published_posts",
    "delete_private_posts",
    "edit_private_posts",
    "read_private_posts",
    "delete_private_pages",
    "edit_private_pages",
    "read_private_pages",
)
_ADMINISTRATOR = (
    *_EDITOR,
    *(f"level_{n}" for n in range(8, 11)),
    "switch_themes",
    "edit_themes",
    "activate_plugins",
    "edit_plugins",
    "edit_users",
    "edit_files",
    "manage_options",
    "import",
    "export",
    "delete_users",
    "create_users",
    "unfiltered_upload",
    "edit_dashboard",
    "update_plugins",
    "delete_plugins",
    "install_plugins",
    "update_themes",
    "install_themes",
    "update_core",
    "list_users",
    "remove_users",
    "promote_users",
    "edit_theme_options",
    "delete_themes",
)

ROLE_CAPABILITIES: dict[str, frozenset[str]] = {
    "administrator": frozenset(_ADMINISTRATOR),
    "editor": frozenset(_EDITOR),
    "subscriber": frozenset(_SUBSCRIBER),
}

_NOT_ALPHANUMERIC = re.compile(r"[^a-zA-Z0-9]")


def normalize_app_password(password: str) -> str:
    """WordPress ignores everything but letters and digits (the spaces are for humans)."""
    return _NOT_ALPHANUMERIC.sub("", password)


def parse_basic_auth(header: str | None) -> tuple[str, str] | None:
    """`(login, password)` from an `Authorization: Basic` header, or None for anything else."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic" or not token:
        return None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    login, sep, password = decoded.partition(":")
    return (login, password) if sep else None


@dataclass(slots=True, eq=False)
class DemoUser:
    """One account; `caps` is mutable so tests can grant or revoke a capability."""

    id: int
    login: str
    display_name: str
    email: str
    roles: tuple[str, ...]
    caps: set[str]
    registered: str = "2025-01-01T00:00:00+00:00"
    app_password: str | None = field(default=None, repr=False)

    @property
    def all_caps(self) -> dict[str, bool]:
        """Capabilities as WordPress reports them: role names are keys too."""
        return {**dict.fromkeys(sorted(self.caps), True), **dict.fromkeys(self.roles, True)}

    def can(self, capability: str) -> bool:
        return capability in self.caps or capability in self.roles

    def set_caps(self, capabilities: Iterable[str]) -> None:
        self.caps = set(capabilities)

    def check_app_password(self, password: str) -> bool:
        if self.app_password is None:
            return False
        return hmac.compare_digest(normalize_app_password(password).encode(), self.app_password.encode())


def default_users() -> list[DemoUser]:
    """admin, editor and subscriber, each with its Application Password."""
    specs = [
        (1, "admin", "Ada Admin", "administrator"),
        (2, "editor", "Eddie Editor", "editor"),
        (3, "subscriber", "Sam Subscriber", "subscriber"),
    ]
    return [
        DemoUser(
            id=user_id,
            login=login,
            display_name=name,
            email=f"{login}@demo.example",
            roles=(role,),
            caps=set(ROLE_CAPABILITIES[role]),
            app_password=normalize_app_password(DEMO_APP_PASSWORDS[login]),
        )
        for user_id, login, name, role in specs
    ]
