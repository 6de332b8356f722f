"""Users, roles and Application Passwords."""

from __future__ import annotations

import base64

import pytest

from proxy.demo.users import DEMO_APP_PASSWORDS, default_users, normalize_app_password, parse_basic_auth


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (f"Basic {_b64('admin:pw')}", ("admin", "pw")),
        (f"basic {_b64('admin:p:w')}", ("admin", "p:w")),
        (f"Basic {_b64('admin:')}", ("admin", "")),
        (f"Basic {_b64('no-colon')}", None),
        ("Basic !!!not-base64!!!", None),
        ("Basic ", None),
        ("Bearer eyJhbGciOi.x.y", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_basic_auth(header: str | None, expected: tuple[str, str] | None) -> None:
    assert parse_basic_auth(header) == expected


@pytest.mark.parametrize(
    ("given", "normalized"),
    [
        ("AdmN 7pQ2 Lx9c Vb4k Rt6w Zy3m", "AdmN7pQ2Lx9cVb4kRt6wZy3m"),
        ("AdmN7pQ2Lx9cVb4kRt6wZy3m", "AdmN7pQ2Lx9cVb4kRt6wZy3m"),
        ("AdmN-7pQ2 Lx9c", "AdmN7pQ2Lx9c"),
    ],
)
def test_normalize_app_password(given: str, normalized: str) -> None:
    assert normalize_app_password(given) == normalized


def test_default_users_have_wordpress_roles_and_capabilities() -> None:
    users = {user.login: user for user in default_users()}
    admin, editor, subscriber = users["admin"], users["editor"], users["subscriber"]
    assert admin.roles == ("administrator",)
    for cap in ("manage_options", "edit_posts", "publish_posts", "list_users", "read"):
        assert admin.can(cap)
    assert editor.can("edit_others_posts")
    assert editor.can("publish_posts")
    assert not editor.can("manage_options")
    assert not editor.can("list_users")
    assert subscriber.all_caps == {"read": True, "level_0": True, "subscriber": True}


def test_app_password_with_or_without_spaces_and_constant_time_refusal() -> None:
    admin = default_users()[0]
    assert admin.check_app_password(DEMO_APP_PASSWORDS["admin"])
    assert admin.check_app_password(DEMO_APP_PASSWORDS["admin"].replace(" ", ""))
    assert not admin.check_app_password(DEMO_APP_PASSWORDS["editor"])
    admin.app_passwords.clear()
    assert not admin.check_app_password(DEMO_APP_PASSWORDS["admin"])


def test_set_caps_keeps_role_names_reported() -> None:
    editor = default_users()[1]
    editor.set_caps({"read"})
    assert editor.all_caps == {"read": True, "editor": True}
    assert not editor.can("edit_posts")
