"""Abilities: input validation, permission, execution."""

from __future__ import annotations

from typing import Any

import pytest

from proxy.demo.abilities import AbilityError, run_ability
from proxy.demo.site import DemoSite


@pytest.mark.parametrize(
    ("ability", "given", "reason"),
    [
        ("demo/get-post", {}, "id is a required property of input."),
        ("demo/get-post", {"id": "1"}, "input[id] is not of type integer."),
        ("demo/get-post", None, "input is not of type object."),
        ("demo/create-post", {"title": "t"}, "content is a required property of input."),
        ("demo/create-post", {"title": "", "content": "c"}, "input[title]:"),
        ("demo/list-users", {"extra": 1}, "input:"),
    ],
)
def test_invalid_input_is_refused_before_anything_runs(ability: str, given: Any, reason: str) -> None:
    site = DemoSite()
    with pytest.raises(AbilityError) as refused:
        run_ability(site, site.abilities[ability], site.users["admin"], given)
    assert refused.value.code == "ability_invalid_input"
    assert refused.value.status == 400
    assert f'Ability "{ability}" has invalid input. Reason: {reason}' in refused.value.message
    assert not site.ability_runs


def test_missing_input_takes_the_schema_default() -> None:
    site = DemoSite()
    result = run_ability(site, site.abilities["demo/list-users"], site.users["admin"], None)
    assert [user["slug"] for user in result["users"]] == ["admin", "editor", "subscriber"]


@pytest.mark.parametrize(
    ("ability", "login", "allowed"),
    [
        ("demo/get-post", "subscriber", True),
        ("demo/create-post", "subscriber", False),
        ("demo/create-post", "editor", True),
        ("demo/list-users", "editor", False),
        ("demo/list-users", "admin", True),
        ("demo/update-settings", "editor", False),
        ("demo/update-settings", "admin", True),
        ("demo/site-health", "admin", True),
    ],
)
def test_permission_is_the_ability_capability(ability: str, login: str, allowed: bool) -> None:
    site = DemoSite()
    params = {
        "demo/get-post": {"id": 1},
        "demo/create-post": {"title": "t", "content": "c"},
        "demo/update-settings": {"title": "New"},
    }.get(ability)
    if allowed:
        run_ability(site, site.abilities[ability], site.users[login], params)
        assert site.ability_runs == {ability: 1}
    else:
        with pytest.raises(AbilityError) as refused:
            run_ability(site, site.abilities[ability], site.users[login], params)
        assert refused.value.code == "ability_invalid_permissions"
        assert not site.ability_runs


def test_anonymous_is_never_permitted() -> None:
    site = DemoSite()
    with pytest.raises(AbilityError, match="does not have necessary permission"):
        run_ability(site, site.abilities["demo/get-post"], None, {"id": 1})


def test_abilities_change_the_site() -> None:
    site = DemoSite()
    created = run_ability(
        site, site.abilities["demo/create-post"], site.users["editor"], {"title": "T", "content": "C"}
    )
    assert site.posts[created["id"]].author == site.users["editor"].id
    run_ability(site, site.abilities["demo/update-settings"], site.users["admin"], {"title": "Renamed"})
    assert site.title == "Renamed"
    with pytest.raises(AbilityError) as missing:
        run_ability(site, site.abilities["demo/get-post"], site.users["admin"], {"id": 999})
    assert (missing.value.code, missing.value.status) == ("rest_post_invalid_id", 404)
