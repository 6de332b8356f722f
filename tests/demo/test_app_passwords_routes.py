"""users/me/application-passwords: list, introspect, delete."""

from __future__ import annotations

import pytest

from proxy.demo.users import INSTALL_APP_ID
from tests.demo.wp_client import WpClient, basic

pytestmark = pytest.mark.asyncio(loop_scope="module")

ROUTE = "/wp-json/wp/v2/users/me/application-passwords"


async def test_introspect_names_the_password_in_use(wp: WpClient) -> None:
    password = wp.demo.site.users["editor"].create_app_password(name="Claude", app_id="app-1")
    installed = await wp.request("GET", ROUTE + "/introspect", login="editor")
    created = await wp.request(
        "GET", ROUTE + "/introspect", headers={"Authorization": basic("editor", password)}
    )
    assert installed.status == 200
    assert created.status == 200
    assert (installed.json["app_id"], installed.json["name"]) == (INSTALL_APP_ID, "sidecar")
    assert (created.json["app_id"], created.json["name"]) == ("app-1", "Claude")
    assert created.json["uuid"] != installed.json["uuid"]
    assert "password" not in created.json


async def test_list_never_shows_the_passwords(wp: WpClient) -> None:
    reply = await wp.request("GET", ROUTE, login="admin")
    assert reply.status == 200
    [entry] = reply.json
    assert set(entry) == {"uuid", "app_id", "name", "created", "last_used", "last_ip"}


@pytest.mark.parametrize("path", [ROUTE, ROUTE + "/introspect"])
async def test_not_logged_in(wp: WpClient, path: str) -> None:
    reply = await wp.request("GET", path)
    assert reply.status == 401
    assert reply.json["code"] == "rest_not_logged_in"


async def test_a_password_can_delete_itself_and_is_refused_after(wp: WpClient) -> None:
    uuid = (await wp.request("GET", ROUTE + "/introspect", login="subscriber")).json["uuid"]
    deleted = await wp.request("DELETE", f"{ROUTE}/{uuid}", login="subscriber")
    assert deleted.status == 200
    assert deleted.json["deleted"] is True
    assert deleted.json["previous"]["uuid"] == uuid
    after = await wp.request("GET", ROUTE + "/introspect", login="subscriber")
    assert after.status == 401


async def test_deleting_an_unknown_password(wp: WpClient) -> None:
    reply = await wp.request("DELETE", f"{ROUTE}/0b8e2f1c-6a55-4c8e-9d1a-3f4e5a6b7c8d", login="admin")
    assert reply.status == 404
    assert reply.json["code"] == "rest_application_password_not_found"
