"""The core Abilities REST API: listing, and running abilities outside MCP (the bypass)."""

from __future__ import annotations

import pytest

from tests.demo.wp_client import WpClient

pytestmark = pytest.mark.asyncio(loop_scope="module")

RUN = "/wp-abilities/v1/abilities/{}/run"


async def test_list_shows_rest_abilities_including_non_public_ones(wp: WpClient) -> None:
    reply = await wp.request("GET", "/wp-json/wp-abilities/v1/abilities", login="subscriber")
    assert reply.status == 200
    listed = {ability["name"]: ability for ability in reply.json}
    assert set(listed) == {
        "demo/get-post",
        "demo/create-post",
        "demo/list-users",
        "demo/update-settings",
        "demo/site-health",
    }
    assert listed["demo/site-health"]["meta"]["mcp"]["public"] is False
    assert listed["demo/create-post"]["meta"]["annotations"] == {
        "readonly": False,
        "destructive": True,
        "idempotent": False,
    }
    assert listed["demo/get-post"]["input_schema"]["required"] == ["id"]


async def test_list_needs_a_logged_in_reader(wp: WpClient) -> None:
    reply = await wp.request("GET", "/wp-json/wp-abilities/v1/abilities")
    assert reply.status == 401
    assert reply.json["code"] == "rest_forbidden"


async def test_single_ability_and_unknown_one(wp: WpClient) -> None:
    found = await wp.request("GET", "/wp-json/wp-abilities/v1/abilities/demo/get-post", login="editor")
    assert found.status == 200
    assert found.json["label"] == "Get Post"
    missing = await wp.request("GET", "/wp-json/wp-abilities/v1/abilities/demo/nope", login="editor")
    assert missing.status == 404
    assert missing.json["code"] == "rest_ability_not_found"


@pytest.mark.parametrize("prefix", ["/wp-json", "/?rest_route="])
async def test_post_runs_a_destructive_ability_with_the_users_permission(wp: WpClient, prefix: str) -> None:
    path = prefix + RUN.format("demo/create-post")
    reply = await wp.request(
        "POST", path, login="editor", body={"input": {"title": "Via REST", "content": "x"}}
    )
    assert reply.status == 200, reply.raw
    assert reply.json["title"] == "Via REST"
    assert wp.demo.site.posts[reply.json["id"]].author == 2
    assert wp.demo.site.ability_runs == {"demo/create-post": 1}
    assert not wp.demo.site.calls  # not through MCP at all


async def test_get_runs_a_readonly_ability_with_query_input(wp: WpClient) -> None:
    reply = await wp.request(
        "GET", "/wp-json" + RUN.format("demo/get-post") + "?input[id]=1", login="subscriber"
    )
    assert reply.status == 200, reply.raw
    assert reply.json["title"] == "Hello world!"


async def test_non_public_ability_runs_over_rest(wp: WpClient) -> None:
    reply = await wp.request("GET", "/wp-json" + RUN.format("demo/site-health"), login="admin")
    assert reply.status == 200
    assert reply.json["wordpress"] == "7.1"


@pytest.mark.parametrize(
    ("login", "status"),
    [(None, 401), ("subscriber", 403)],
)
async def test_permission_refusal(wp: WpClient, login: str | None, status: int) -> None:
    body = {"input": {"title": "x", "content": "y"}}
    reply = await wp.request("POST", "/wp-json" + RUN.format("demo/create-post"), login=login, body=body)
    assert reply.status == status
    assert reply.json == {
        "code": "rest_ability_cannot_execute",
        "message": "Sorry, you are not allowed to execute this ability.",
        "data": {"status": status},
    }
    assert not wp.demo.site.ability_runs


@pytest.mark.parametrize(
    ("method", "ability", "message"),
    [
        ("GET", "demo/create-post", "Abilities that perform updates require POST method."),
        ("POST", "demo/get-post", "Read-only abilities require GET method."),
        ("PUT", "demo/update-settings", "Abilities that perform updates require POST method."),
    ],
)
async def test_wrong_method(wp: WpClient, method: str, ability: str, message: str) -> None:
    reply = await wp.request(method, "/wp-json" + RUN.format(ability), login="admin", body={"input": {}})
    assert reply.status == 405
    assert reply.json["code"] == "rest_ability_invalid_method"
    assert reply.json["message"] == message


async def test_invalid_input_is_400_before_permission(wp: WpClient) -> None:
    reply = await wp.request(
        "POST", "/wp-json" + RUN.format("demo/create-post"), login="subscriber", body={"input": {}}
    )
    assert reply.status == 400
    assert reply.json["code"] == "ability_invalid_input"
    assert "title is a required property of input." in reply.json["message"]


async def test_ability_error_keeps_its_status(wp: WpClient) -> None:
    reply = await wp.request(
        "GET", "/wp-json" + RUN.format("demo/get-post") + "?input[id]=404", login="admin"
    )
    assert reply.status == 404
    assert reply.json["code"] == "rest_post_invalid_id"


async def test_unknown_ability_run(wp: WpClient) -> None:
    reply = await wp.request("POST", "/wp-json" + RUN.format("demo/nope"), login="admin", body={"input": {}})
    assert reply.status == 404
    assert reply.json["code"] == "rest_ability_not_found"


async def test_percent_encoded_path_still_reaches_the_route(wp: WpClient) -> None:
    path = "/wp-json/wp%2Dabilities/v1/abilities/demo/update-settings/run"
    reply = await wp.request("POST", path, login="admin", body={"input": {"title": "Renamed"}})
    assert reply.status == 200
    assert wp.demo.site.title == "Renamed"
