"""WordPress users, roles and Application Passwords, as the demo site knows them.

Capabilities follow WordPress's default roles so that a sidecar reading
`users/me?context=edit` sees what it would see on a real site. Each user has a
login password (for `wp-login.php`) and any number of Application Passwords
(one made at install, one more per approval on `authorize-application.php`).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets
import string
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

__all__ = [
    "DEMO_APP_PASSWORDS",
    "DEMO_LOGIN_PASSWORDS",
    "ROLE_CAPABILITIES",
    "AppPassword",
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
DEMO_LOGIN_PASSWORDS: dict[str, str] = {
    "admin": "demo-admin-login",
    "editor": "demo-editor-login",
    "subscriber": "demo-subscriber-login",
}
"""What each demo user types on `wp-login.php` (never accepted as an Application Password)."""

INSTALL_APP_ID = "00000000-0000-4000-8000-000000000001"  # the app id of the passwords made at install
_APP_PASSWORD_LENGTH = 24
_APP_PASSWORD_ALPHABET = string.ascii_letters + string.digits

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


@dataclass(slots=True)
class AppPassword:
    """One Application Password: WordPress keeps a uuid, the app it was made for, a name and the secret."""

    uuid: str
    app_id: str
    name: str
    password: str = field(repr=False)  # normalised (letters and digits only)
    created: str = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0).isoformat())

    def matches(self, password: str) -> bool:
        return hmac.compare_digest(normalize_app_password(password).encode(), self.password.encode())

    def describe(self) -> dict[str, str | None]:
        """The REST shape (`users/me/application-passwords`): never the password itself."""
        return {
            "uuid": self.uuid,
            "app_id": self.app_id,
            "name": self.name,
            "created": self.created,
            "last_used": None,
            "last_ip": None,
        }


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
    login_password: str = field(default="", repr=False)
    app_passwords: list[AppPassword] = field(default_factory=list)

    @property
    def all_caps(self) -> dict[str, bool]:
        """Capabilities as WordPress reports them: role names are keys too."""
        return {**dict.fromkeys(sorted(self.caps), True), **dict.fromkeys(self.roles, True)}

    def can(self, capability: str) -> bool:
        return capability in self.caps or capability in self.roles

    def set_caps(self, capabilities: Iterable[str]) -> None:
        self.caps = set(capabilities)

    def check_app_password(self, password: str) -> bool:
        return self.app_password_for(password) is not None

    def app_password_for(self, password: str) -> AppPassword | None:
        """The Application Password `password` is, compared in constant time with every one of them."""
        found = None
        for candidate in self.app_passwords:
            if candidate.matches(password):
                found = candidate
        return found

    def check_login_password(self, password: str) -> bool:
        return bool(self.login_password) and hmac.compare_digest(
            password.encode(), self.login_password.encode()
        )

    def create_app_password(self, *, name: str, app_id: str) -> str:
        """Make a new Application Password (as `authorize-application.php` does) and return it, unspaced."""
        raw = "".join(secrets.choice(_APP_PASSWORD_ALPHABET) for _ in range(_APP_PASSWORD_LENGTH))
        self.app_passwords.append(AppPassword(str(uuid.uuid4()), app_id, name, raw))
        return raw

    def delete_app_password(self, app_password_uuid: str) -> AppPassword | None:
        for candidate in self.app_passwords:
            if candidate.uuid == app_password_uuid:
                self.app_passwords.remove(candidate)
                return candidate
        return None


def default_users() -> list[DemoUser]:
    """admin, editor and subscriber, each with its login password and one Application Password."""
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
            login_password=DEMO_LOGIN_PASSWORDS[login],
            app_passwords=[
                AppPassword(
                    str(uuid.uuid5(uuid.NAMESPACE_URL, f"demo-app-password:{login}")),
                    INSTALL_APP_ID,
                    "sidecar",
                    normalize_app_password(DEMO_APP_PASSWORDS[login]),
                )
            ],
        )
        for user_id, login, name, role in specs
    ]
